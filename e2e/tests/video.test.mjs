// Video streams (issue 16) with the official client and real players' tools: a video created
// with createFromLocalFile gets a mux_playback_id once its transcode job ran; ffprobe and ffmpeg
// read and decode the whole HLS stream over HTTP; the MP4 renditions answer ranges; thumbnails
// follow the poster time set through the client; keep_url keeps the playback id; a new version
// gets a new one; a delete ends the stream.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { useServer, getBytes, jpegSize, makeClip, putViaUploadRequest, sleep } from '../harness.mjs';

const T = { timeout: 240000 };

const srv = useServer({ env: { ASSETD_VIDEO_SEGMENT_SECONDS: '2', ASSETD_VIDEO_PRESET: 'ultrafast' } });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-video-'));

/** A test clip in the temp dir: `size` (e.g. 1280x720), `seconds` long, with a tone. */
const clipIn = (name, size, seconds) => makeClip(path.join(tmp, name), { size, seconds });

/** Polls the upload until its stream is served (or `timeoutMs` passed). */
async function waitForStream(id, { timeoutMs = 120000, previous = null } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const u = await srv.client.uploads.find(id);
    if (u.mux_playback_id && u.meta?.video?.status === 'ready' && u.mux_playback_id !== previous) return u;
    if (u.meta?.video?.status === 'errored') assert.fail(`the stream failed: ${u.meta.video.error}`);
    if (Date.now() > deadline) assert.fail(`no stream after ${timeoutMs} ms: ${JSON.stringify(u.meta)}`);
    await sleep(300);
  }
}

function run(command, args) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

let video;
let stream;

test('a video made with createFromLocalFile gets a stream', T, async () => {
  const clip = clipIn('clip720.mp4', '1280x720', 6);
  video = await srv.client.uploads.createFromLocalFile({ localPath: clip });
  assert.equal(video.mime_type, 'video/mp4');
  stream = await waitForStream(video.id);
  assert.match(stream.mux_playback_id, /^[A-Za-z0-9_-]+$/);
  assert.equal(stream.mux_mp4_highest_res, 'high', '720 lines: low, medium and high');
});

test('ffprobe and ffmpeg read and decode the whole stream over HTTP', T, async () => {
  const master = `${srv.baseUrl}/video/${stream.mux_playback_id}.m3u8`;
  const probe = run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', master]);
  assert.equal(probe.status, 0, probe.stderr);
  const facts = JSON.parse(probe.stdout);
  const heights = facts.streams.filter((s) => s.codec_type === 'video').map((s) => s.height).sort((a, b) => a - b);
  assert.deepEqual(heights, [360, 480, 720], 'every rung of the ladder');
  assert.ok(facts.streams.some((s) => s.codec_name === 'aac'), 'with its audio');
  assert.ok(Math.abs(Number(facts.format.duration) - 6) < 0.3, `duration ${facts.format.duration}`);

  // Decodes every frame of the rung ffmpeg picks, and its audio, fetching each segment over HTTP.
  const decode = run('ffmpeg', ['-nostdin', '-v', 'error', '-i', master, '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-']);
  assert.equal(decode.status, 0, decode.stderr);
  assert.equal(decode.stderr.trim(), '', 'no decoding error');
  const frames = run('ffprobe', [
    '-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', master,
  ]);
  assert.equal(frames.status, 0, frames.stderr);
  assert.equal(Number(frames.stdout.trim().split('\n')[0]), 150, '6 s at 25 fps, every frame');
});

test('MP4 renditions answer whole and in ranges', T, async () => {
  const high = `${srv.baseUrl}/video/${stream.mux_playback_id}/high.mp4`;
  const whole = await getBytes(high);
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get('content-type'), 'video/mp4');
  assert.equal(whole.headers.get('access-control-allow-origin'), '*');
  const file = path.join(tmp, 'high.mp4');
  fs.writeFileSync(file, whole.buf);
  const probe = JSON.parse(run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', file]).stdout);
  assert.equal(probe.streams[0].height, 720);
  const part = await getBytes(high, { headers: { Range: 'bytes=0-1023' } });
  assert.equal(part.status, 206);
  assert.ok(part.buf.equals(whole.buf.subarray(0, 1024)));
  assert.equal(part.headers.get('content-range'), `bytes 0-1023/${whole.buf.length}`);
  for (const name of ['low', 'medium']) {
    assert.equal((await getBytes(`${srv.baseUrl}/video/${stream.mux_playback_id}/${name}.mp4`)).status, 200, name);
  }
});

test('thumbnails: the asked width, and the poster time set through the client', T, async () => {
  const url = `${srv.baseUrl}/video/${stream.mux_playback_id}/thumbnail.jpg?width=320`;
  const before = await getBytes(url);
  assert.equal(before.status, 200);
  assert.equal(before.headers.get('content-type'), 'image/jpeg');
  assert.deepEqual(jpegSize(before.buf), { width: 320, height: 180 });

  await srv.client.uploads.update(video.id, { default_field_metadata: { en: { poster_time: 1 } } });
  const after = await getBytes(url);
  assert.equal(after.status, 200);
  assert.ok(!after.buf.equals(before.buf), 'the old poster frame is not served');
  const at1 = await getBytes(`${url}&time=1`);
  assert.ok(after.buf.equals(at1.buf), 'the default time is the poster time');
});

test('animated previews and the storyboard', T, async () => {
  const base = `${srv.baseUrl}/video/${stream.mux_playback_id}`;
  const gif = await getBytes(`${base}/animated.gif?width=160&fps=10&end=2`);
  assert.equal(gif.status, 200);
  assert.equal(gif.headers.get('content-type'), 'image/gif');
  const file = path.join(tmp, 'preview.gif');
  fs.writeFileSync(file, gif.buf);
  const frames = run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries',
    'stream=nb_read_frames,width', '-of', 'json', file]);
  const facts = JSON.parse(frames.stdout).streams[0];
  assert.equal(facts.width, 160);
  assert.ok(Number(facts.nb_read_frames) >= 15, `several frames: ${facts.nb_read_frames}`);
  const webp = await getBytes(`${base}/animated.webp`);
  assert.equal(webp.headers.get('content-type'), 'image/webp');
  assert.ok(webp.buf.includes(Buffer.from('ANMF')), 'an animated WebP');
  const vtt = await (await fetch(`${base}/storyboard.vtt`)).text();
  const cue = vtt.split('\n').find((line) => line.includes('#xywh='));
  const [imageUrl, fragment] = cue.split('#xywh=');
  const image = await getBytes(imageUrl);
  assert.equal(image.status, 200, imageUrl);
  assert.equal(image.headers.get('content-type'), 'image/jpeg');
  assert.match(fragment, /^0,0,256,144$/);
});

test('subtitle tracks with the official client: from VTT and SRT, listed, in the stream, destroyed', T, async () => {
  const { Resources } = await import('@datocms/cma-client-node');
  const vtt = path.join(tmp, 'it.vtt');
  fs.writeFileSync(vtt, 'WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nBuongiorno\n');
  const srt = path.join(tmp, 'en.srt');
  fs.writeFileSync(srt, '1\n00:00:01,000 --> 00:00:03,000\nHello\n');
  // 5.5.3 has createFromLocalFile on the node package's UploadTrack class, not on client.uploadTracks.
  const tracks = new Resources.UploadTrack(srv.client);
  const italian = await tracks.createFromLocalFile(video.id, { localPath: vtt, type: 'subtitles', name: 'Italiano', language_code: 'it' });
  assert.equal(italian.status, 'ready');
  assert.equal(italian.name, 'Italiano');
  const english = await tracks.createFromLocalFile(video.id, { localPath: srt, type: 'subtitles', language_code: 'en', closed_captions: true });
  assert.equal(english.language_code, 'en');
  const listed = await srv.client.uploadTracks.list(video.id);
  assert.deepEqual(listed.map((t) => t.id), [italian.id, english.id]);

  const master = await (await fetch(`${srv.baseUrl}/video/${stream.mux_playback_id}.m3u8`)).text();
  assert.match(master, /#EXT-X-MEDIA:TYPE=SUBTITLES,.*LANGUAGE="it",NAME="Italiano"/);
  // ffmpeg's HLS demuxer skips subtitle renditions ("Can't support the subtitle"): follow the
  // master's URI as a player does, and let ffprobe's WebVTT demuxer read what it names.
  const uri = master.match(/TYPE=SUBTITLES,[^\n]*URI="([^"]+)"/)[1];
  const trackPlaylistUrl = new URL(uri, `${srv.baseUrl}/video/${stream.mux_playback_id}.m3u8`);
  const trackPlaylist = await (await fetch(trackPlaylistUrl)).text();
  assert.match(trackPlaylist, /#EXT-X-ENDLIST/);
  const segment = trackPlaylist.split('\n').find((line) => line && !line.startsWith('#'));
  const probe = run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_packets',
    new URL(segment, trackPlaylistUrl).href]);
  assert.equal(probe.status, 0, probe.stderr);
  const probed = JSON.parse(probe.stdout);
  assert.equal(probed.streams[0].codec_name, 'webvtt');
  assert.equal(probed.packets.length, 1, 'the one cue of the VTT file');

  await srv.client.uploadTracks.destroy(video.id, english.id);
  assert.deepEqual((await srv.client.uploadTracks.list(video.id)).map((t) => t.id), [italian.id]);
  await assert.rejects(
    srv.client.uploadTracks.generateSubtitles(video.id, { name: 'Auto', language_code: 'en' }),
    (error) => error.findError?.('SUBTITLES_GENERATION_UNAVAILABLE') !== undefined,
  );
});

test('keep_url keeps the playback id, a new version gets a new one, a delete ends the stream', T, async () => {
  const c = srv.client;
  const first = stream.mux_playback_id;
  const firstMaster = await (await fetch(`${srv.baseUrl}/video/${first}.m3u8`)).text();

  const smaller = clipIn('clip480.mp4', '854x480', 4);
  const req = await putViaUploadRequest(c, smaller, 'clip480.mp4', 'video/mp4');
  const replaced = await c.uploads.update(video.id, { path: req.id }, { replace_strategy: 'keep_url' });
  assert.equal(replaced.url, video.url);
  assert.equal(replaced.mux_playback_id, first, 'the stream keeps serving meanwhile');
  let master;
  for (let i = 0; ; i++) {
    master = await (await fetch(`${srv.baseUrl}/video/${first}.m3u8`)).text();
    if (master !== firstMaster) break;
    assert.ok(i < 400, 'the new stream is served in time');
    await sleep(300);
  }
  const u = await waitForStream(video.id);
  assert.equal(u.mux_playback_id, first);
  assert.equal(u.mux_mp4_highest_res, 'medium');
  assert.equal((master.match(/#EXT-X-STREAM-INF/g) ?? []).length, 2, master);
  const probe = run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', `${srv.baseUrl}/video/${first}.m3u8`]);
  assert.ok(Math.abs(Number(JSON.parse(probe.stdout).format.duration) - 4) < 0.3, 'the new file is streamed');

  const other = await putViaUploadRequest(c, smaller, 'other.mp4', 'video/mp4');
  const updated = await c.uploads.update(video.id, { path: other.id });
  assert.notEqual(updated.url, video.url);
  assert.equal((await fetch(`${srv.baseUrl}/video/${first}.m3u8`)).status, 404, 'the old stream is gone');
  const renewed = await waitForStream(video.id, { previous: first });
  assert.notEqual(renewed.mux_playback_id, first);

  await c.uploads.destroy(video.id);
  const gone = await fetch(`${srv.baseUrl}/video/${renewed.mux_playback_id}.m3u8`);
  assert.equal(gone.status, 404);
});
