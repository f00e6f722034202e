#!/usr/bin/env bash
# GraphQL listing vs the CMA listing (issue 17): on COUNT synthetic uploads (seeded by
# bench_listing, cached in $BENCH_DIR like bench/listing.sh), times in one run, interleaved,
#   A  GET /uploads?page[limit]=100                                   (the CMA listing, the baseline)
#   B  POST /graphql  allUploads(first: 100) { id … responsiveImage { srcSet webpSrcSet … } }
# RUNS times each (after WARMUP each), and prints p50/p90/max of both and the ratio of medians.
# Usage: bench/graphql.sh [COUNT] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT="${1:-100000}"
RUNS="${2:-100}"
WARMUP=10
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/assetd/target}"
BENCH_DIR="${BENCH_DIR:-$HOME/.cache/assetd/bench-listing-$COUNT}"
TOKEN="bench-listing-token"

cargo build --release --locked --bin assetd --example bench_listing
BIN="$CARGO_TARGET_DIR/release"

SCHEMA=$(cat migrations/sqlite/*.sql | sha256sum | cut -c1-16)
if [ "$(cat "$BENCH_DIR/seeded" 2>/dev/null)" != "$SCHEMA" ]; then
  rm -rf "$BENCH_DIR"
  "$BIN/examples/bench_listing" seed "$BENCH_DIR" "$COUNT"
  echo "$SCHEMA" > "$BENCH_DIR/seeded"
fi

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ASSETD_LISTEN="127.0.0.1:$PORT" ASSETD_DATA_DIR="$BENCH_DIR" ASSETD_API_TOKEN="$TOKEN" ASSETD_LOCALES=en,it \
  ASSETD_RATE_LIMIT=0 RUST_LOG=warn "$BIN/assetd" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done

python3 - "http://127.0.0.1:$PORT" "$TOKEN" "$RUNS" "$WARMUP" "$COUNT" <<'PY'
import json, statistics, sys, time, urllib.request

base, token, runs, warmup, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
headers = {"Authorization": f"Bearer {token}", "Accept": "application/json", "X-Api-Version": "3"}
QUERY = """{ allUploads(first: 100) { id filename width height alt title url blurhash
  responsiveImage(imgixParams: { fit: crop, w: 600, h: 400, auto: format }) {
    src srcSet webpSrcSet sizes width height aspectRatio alt title base64 bgColor } } }"""

def cma():
    request = urllib.request.Request(f"{base}/uploads?page%5Blimit%5D=100", headers=headers)
    with urllib.request.urlopen(request) as response:
        body = json.loads(response.read())
    assert len(body["data"]) == 100, body.get("meta")

def graphql():
    data = json.dumps({"query": QUERY}).encode()
    request = urllib.request.Request(f"{base}/graphql", data=data, headers={**headers, "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body["errors"]
    files = body["data"]["allUploads"]
    assert len(files) == 100
    assert sum(1 for f in files if f["responsiveImage"]) > 50, "most seeded uploads are images"

def timed(call):
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000

for _ in range(warmup):
    cma(); graphql()
times = {"cma": [], "graphql": []}
for _ in range(runs):
    times["cma"].append(timed(cma))
    times["graphql"].append(timed(graphql))

def summary(values):
    values = sorted(values)
    return {"p50": statistics.median(values), "p90": values[int(len(values) * 0.9) - 1], "max": values[-1]}

a, b = summary(times["cma"]), summary(times["graphql"])
print(f"{count} uploads, {runs} runs each (after {warmup} warm-up), interleaved")
print(f"A GET /uploads?page[limit]=100            p50 {a['p50']:.1f} ms  p90 {a['p90']:.1f} ms  max {a['max']:.1f} ms")
print(f"B allUploads(first: 100) + responsiveImage p50 {b['p50']:.1f} ms  p90 {b['p90']:.1f} ms  max {b['max']:.1f} ms")
print(f"ratio of medians B/A: {b['p50'] / a['p50']:.2f} (bar: ≤ 2)")
PY
