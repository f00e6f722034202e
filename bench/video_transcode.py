#!/usr/bin/env python3
"""The video transcode benchmark (issue 16): the same HLS ladder made by plain ffmpeg on the command line
and by assetd's transcode job, on the same clip, in the same run.

The clip: 60 s of 1920x1080 at 30 fps (ffmpeg's testsrc2, which moves and has detail everywhere) with a
440 Hz sine as stereo AAC, encoded once as H.264 CRF 18 and cached under BENCH_CACHE_DIR.

One assetd (release build unless ASSETD_BIN names one; SQLite + local disk in a fresh data directory,
ASSETD_WORKERS=1, ASSETD_VIDEO_TRANSCODES=1, default preset and ladder) serves the whole run. Each round
runs both, in alternating order (the machine is shared and noisy):
  - assetd: POST /upload-requests, PUT of the clip, then the clock starts at POST /uploads and stops when
    GET /uploads/{id} shows mux_playback_id and the master playlist and the top rung's first segment answer
    200 (time to a playable stream: ingest, probe, the ladder encode, the MP4 remuxes and storing every
    output). The server's RSS (VmRSS of the assetd process, not of its ffmpeg child) is sampled every
    100 ms; the ffmpeg child's too, for comparison.
  - plain ffmpeg: the exact command assetd ran (taken from its `transcoding` log line, ffmpeg_args), with
    the input replaced by the clip and the output folder by a fresh one, timed from start to exit, followed
    by the same MP4 remuxes (`ffmpeg -i <rung>/index.m3u8 -c copy -movflags +faststart`) assetd makes.
The speed ratio is plain ffmpeg's time / assetd's time to a playable stream (≥ 0.9 is the issue's bar),
given per round and for the medians.

Knobs (environment): BENCH_ROUNDS (3), BENCH_CACHE_DIR (~/.cache/assetd/bench-video), BENCH_SUMMARY (a
file to also write the markdown summary to), ASSETD_BIN, ASSETD_FFMPEG (ffmpeg), BENCH_PORT (3917).
"""

import json
import os
import pathlib
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CACHE = pathlib.Path(os.environ.get("BENCH_CACHE_DIR", pathlib.Path.home() / ".cache/assetd/bench-video"))
FFMPEG = os.environ.get("ASSETD_FFMPEG", "ffmpeg")
PORT = int(os.environ.get("BENCH_PORT", "3917"))
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "bench-video-token-0123456789"
CMA = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/json", "X-Api-Version": "3"}


def log(message):
    print(f"== {message}", file=sys.stderr, flush=True)


def make_clip():
    clip = CACHE / "testsrc2-1080p30-60s.mp4"
    if not clip.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        log(f"making the 60 s 1080p clip {clip}")
        partial = clip.with_suffix(".part.mp4")
        subprocess.run(
            [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
             "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30:duration=60",
             "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=60",
             "-c:v", "libx264", "-preset", "medium", "-crf", "18", "-pix_fmt", "yuv420p",
             "-c:a", "aac", "-b:a", "192k", "-ac", "2", "-movflags", "+faststart", str(partial)],
            check=True,
        )
        partial.rename(clip)
    return clip


def assetd_binary():
    if os.environ.get("ASSETD_BIN"):
        return os.environ["ASSETD_BIN"]
    target = os.environ.get("CARGO_TARGET_DIR", str(pathlib.Path.home() / ".cache/assetd/target"))
    log("building assetd (release)")
    subprocess.run(["cargo", "build", "--release", "--locked", "--quiet"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    return f"{target}/release/assetd"


def request(method, path, body=None, headers=None, data=None):
    url = path if path.startswith("http") else BASE + path
    all_headers = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/vnd.api+json"
    req = urllib.request.Request(url, data=data, method=method, headers=all_headers)
    try:
        with urllib.request.urlopen(req, timeout=600) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def cma(method, path, body=None):
    status, raw = request(method, path, body, CMA)
    return status, (json.loads(raw) if raw else None)


class RssSampler:
    """Peak VmRSS of the server and of its ffmpeg children, sampled every 100 ms."""

    def __init__(self, pid):
        self.pid, self.server_kib, self.ffmpeg_kib = pid, 0, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def rss_kib(pid):
        try:
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def run(self):
        while not self.stop.wait(0.1):
            self.server_kib = max(self.server_kib, self.rss_kib(self.pid))
            # ffmpeg is spawned from a runtime worker thread: its parent is that thread's task.
            children = []
            for task in pathlib.Path(f"/proc/{self.pid}/task").glob("*/children"):
                try:
                    children.extend(task.read_text().split())
                except OSError:
                    pass
            ffmpeg = sum(self.rss_kib(int(child)) for child in children)
            self.ffmpeg_kib = max(self.ffmpeg_kib, ffmpeg)

    def finish(self):
        self.stop.set()
        self.thread.join()
        return self.server_kib, self.ffmpeg_kib


def upload_and_wait(server, clip):
    status, doc = cma("POST", "/upload-requests",
                      {"data": {"type": "upload_request", "attributes": {"filename": clip.name}}})
    assert status == 200, (status, doc)
    path, put_url = doc["data"]["id"], doc["data"]["attributes"]["url"]
    with open(clip, "rb") as body:
        status, raw = request("PUT", put_url, headers={"Content-Length": str(clip.stat().st_size)}, data=body)
    assert status == 200, (status, raw)
    sampler = RssSampler(server.pid)
    started = time.monotonic()
    status, doc = cma("POST", "/uploads", {"data": {"type": "upload", "attributes": {"path": path}}})
    assert status == 202, (status, doc)
    job = doc["data"]["id"]
    while True:
        status, doc = cma("GET", f"/job-results/{job}")
        if status == 200:
            break
        assert status == 404, (status, doc)
        time.sleep(0.05)
    upload_id = doc["data"]["attributes"]["payload"]["data"]["id"]
    while True:
        status, doc = cma("GET", f"/uploads/{upload_id}")
        assert status == 200, (status, doc)
        video = doc["data"].get("meta", {}).get("video") or {}
        assert video.get("status") != "errored", video
        playback_id = doc["data"]["attributes"]["mux_playback_id"]
        if playback_id:
            break
        time.sleep(0.1)
    status, master = request("GET", f"/video/{playback_id}.m3u8")
    assert status == 200, status
    top = next(line for line in master.decode().splitlines() if line and not line.startswith("#"))
    status, _ = request("GET", f"/video/{top.rsplit('/', 1)[0]}/seg_00000.m4s")
    assert status == 200, ("first segment", status)
    elapsed = time.monotonic() - started
    server_kib, ffmpeg_kib = sampler.finish()
    return {"secs": elapsed, "server_kib": server_kib, "ffmpeg_kib": ffmpeg_kib, "rungs": master.decode().count("#EXT-X-STREAM-INF")}


def logged_command(server_log):
    for line in open(server_log):
        if '"ffmpeg_args"' in line:
            record = json.loads(line)
            fields = record.get("fields", record)
            return json.loads(fields["ffmpeg_args"])
    raise SystemExit("no `transcoding` line with ffmpeg_args in the server's log")


def plain_ffmpeg(command, clip, work):
    out = work / "out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    args = list(command)
    source = args.index("-i") + 1
    old_out = str(pathlib.Path(args[-1]).parent.parent)  # …/out/%v/index.m3u8
    args[source] = f"file:{clip}"
    args = [a.replace(old_out, str(out)) if i != source else a for i, a in enumerate(args)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.monotonic()
    subprocess.run([FFMPEG, *args], check=True)
    rungs = sorted(p.name for p in out.iterdir() if p.is_dir())
    # The MP4 renditions assetd remuxes: low (lowest rung), medium (≤540 lines), high (top, >540).
    lines = {r: int(r.rstrip("p")) for r in rungs}
    by_lines = sorted(rungs, key=lambda r: lines[r])
    renditions = [by_lines[0]]
    medium = [r for r in by_lines[1:] if lines[r] <= 540]
    if medium:
        renditions.append(medium[-1])
    if len(by_lines) > 1 and lines[by_lines[-1]] > 540:
        renditions.append(by_lines[-1])
    for i, rung in enumerate(renditions):
        subprocess.run([FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i",
                        str(out / rung / "index.m3u8"), "-c", "copy", "-movflags", "+faststart",
                        str(out / f"r{i}.mp4")], check=True)
    elapsed = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"secs": elapsed, "ffmpeg_kib": after if after > before else None, "rungs": len(rungs)}


def main():
    clip = make_clip()
    binary = assetd_binary()
    work = pathlib.Path(tempfile.mkdtemp(prefix="assetd-bench-video-"))
    server_log = work / "server.log"
    env = {**os.environ, "ASSETD_DATA_DIR": str(work / "data"), "ASSETD_LISTEN": f"127.0.0.1:{PORT}",
           "ASSETD_API_TOKEN": TOKEN, "ASSETD_LOG_FORMAT": "json", "ASSETD_WORKERS": "1",
           "ASSETD_VIDEO_TRANSCODES": "1", "RUST_LOG": "info", "ASSETD_RATE_LIMIT": "0"}
    server = subprocess.Popen([binary, "serve"], env=env, stdout=open(server_log, "w"), stderr=subprocess.STDOUT)
    try:
        for _ in range(200):
            try:
                if request("GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit(f"assetd did not start; see {server_log}")
        results = []
        command = None
        for round_no in range(1, ROUNDS + 1):
            order = ["assetd", "plain"] if round_no % 2 == 1 else ["plain", "assetd"]
            if command is None:
                order = ["assetd", "plain"]
            row = {}
            for engine in order:
                if engine == "assetd":
                    row["assetd"] = upload_and_wait(server, clip)
                    command = command or logged_command(server_log)
                else:
                    row["plain"] = plain_ffmpeg(command, clip, work)
                log(f"round {round_no} {engine}: {row[engine]['secs']:.1f} s")
            row["order"] = order
            results.append(row)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    summary = render(results, clip, binary)
    print(summary)
    if os.environ.get("BENCH_SUMMARY"):
        pathlib.Path(os.environ["BENCH_SUMMARY"]).write_text(summary)
    shutil.rmtree(work, ignore_errors=True)


def render(results, clip, binary):
    out = []
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    out.append(f"Run finished {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, commit {commit}, {len(results)} rounds, "
               f"clip {clip.name} ({clip.stat().st_size / 1e6:.1f} MB), {os.cpu_count()} cores.\n")
    out.append("| round | order | plain ffmpeg (s) | assetd POST → playable (s) | ratio plain/assetd | server peak RSS (MiB) | ffmpeg peak RSS in assetd (MiB) | rungs |")
    out.append("|---|---|---|---|---|---|---|---|")
    for i, r in enumerate(results, 1):
        ratio = r["plain"]["secs"] / r["assetd"]["secs"]
        out.append(f"| {i} | {' → '.join(r['order'])} | {r['plain']['secs']:.1f} | {r['assetd']['secs']:.1f} | {ratio:.2f} | "
                   f"{r['assetd']['server_kib'] / 1024:.0f} | {r['assetd']['ffmpeg_kib'] / 1024:.0f} | {r['assetd']['rungs']} |")
    plain = [r["plain"]["secs"] for r in results]
    assetd = [r["assetd"]["secs"] for r in results]
    ratios = [r["plain"]["secs"] / r["assetd"]["secs"] for r in results]
    out.append("")
    out.append(f"Medians: plain ffmpeg {statistics.median(plain):.1f} s (spread {min(plain):.1f}–{max(plain):.1f}), "
               f"assetd {statistics.median(assetd):.1f} s (spread {min(assetd):.1f}–{max(assetd):.1f}); "
               f"ratio of medians {statistics.median(plain) / statistics.median(assetd):.2f}, per-round ratios "
               f"{min(ratios):.2f}–{max(ratios):.2f}. Server peak RSS over all rounds "
               f"{max(r['assetd']['server_kib'] for r in results) / 1024:.0f} MiB.")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    main()
