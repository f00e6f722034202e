// A video's HLS stream played by hls.js (the player library DatoCMS front-ends and Mux Player
// build on) in headless Chromium (Debian's `chromium`, driven by playwright-core), issue 16: a clip
// created with the official client, its stream once mux_playback_id is set, loaded by hls.js from
// a page of the server's origin; playback passes 2 s with no error event, hls.js saw every rung of
// the ladder and the subtitle track (its cue reaches the video element), and the segments came
// from the stream's own URLs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { E2E_DIR, makeClip, sleep, startServer } from '../harness.mjs';
import { launchChromium } from './chromium.mjs';

const T = { timeout: 240000 };
const HLS_JS = path.join(E2E_DIR, 'node_modules', 'hls.js', 'dist', 'hls.min.js');

let server;
let context;
let userDataDir;
let tmp;
let upload;

before(async () => {
  server = await startServer({ env: { ASSETD_VIDEO_SEGMENT_SECONDS: '2', ASSETD_VIDEO_PRESET: 'ultrafast' } });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-player-'));
  const clip = makeClip(path.join(tmp, 'player.mp4'), { size: '1280x720', seconds: 8 });
  const created = await server.client.uploads.createFromLocalFile({ localPath: clip });
  const deadline = Date.now() + 180000;
  for (;;) {
    upload = await server.client.uploads.find(created.id);
    if (upload.mux_playback_id) break;
    assert.notEqual(upload.meta?.video?.status, 'errored', JSON.stringify(upload.meta));
    assert.ok(Date.now() < deadline, 'the stream was not ready within 180 s');
    await sleep(300);
  }
  const { Resources } = await import('@datocms/cma-client-node');
  const vtt = path.join(tmp, 'it.vtt');
  fs.writeFileSync(vtt, 'WEBVTT\n\n00:00:00.200 --> 00:00:05.000\nBuongiorno a tutti\n');
  await new Resources.UploadTrack(server.client).createFromLocalFile(upload.id, {
    localPath: vtt, type: 'subtitles', name: 'Italiano', language_code: 'it',
  });
  ({ context, userDataDir } = await launchChromium('player', {
    args: ['--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 800, height: 500 },
  }));
  // The page and hls.js under the server's origin (answered by Playwright, never by assetd).
  const hlsJs = fs.readFileSync(HLS_JS, 'utf8');
  await context.route(`${server.baseUrl}/player-lab/**`, (route) => {
    if (route.request().url().endsWith('/hls.min.js')) {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: hlsJs });
    }
    return route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><body><video id="v" muted playsinline width="640" height="360"></video>'
        + '<script src="/player-lab/hls.min.js"></script></body>',
    });
  });
}, T);

after(async () => {
  await context?.close();
  await server?.stop();
  for (const dir of [userDataDir, tmp]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

test('hls.js in Chromium plays the stream past 2 s with no error, with its subtitle track', T, async () => {
  const page = await context.newPage();
  const requested = [];
  page.on('request', (request) => requested.push(request.url()));
  await page.goto(`${server.baseUrl}/player-lab/page`);
  const master = `${server.baseUrl}/video/${upload.mux_playback_id}.m3u8`;
  const result = await page.evaluate(async (src) => {
    const Hls = window.Hls;
    if (!Hls.isSupported()) return { supported: false };
    const video = document.getElementById('v');
    const errors = [];
    const hls = new Hls({ capLevelToPlayerSize: false });
    let levels = [];
    let subtitleTracks = [];
    const subtitlesLoaded = new Promise((resolve) => hls.on(Hls.Events.SUBTITLE_FRAG_PROCESSED, resolve));
    hls.on(Hls.Events.ERROR, (_, data) => errors.push(`${data.type}/${data.details}${data.fatal ? ' (fatal)' : ''}`));
    hls.on(Hls.Events.MANIFEST_PARSED, (_, data) => {
      levels = data.levels.map((l) => ({ width: l.width, height: l.height, bitrate: l.bitrate, codecs: l.codecSet }));
      subtitleTracks = data.subtitleTracks.map((t) => ({ name: t.name, lang: t.lang }));
    });
    video.addEventListener('error', () => errors.push(`video element: ${video.error?.message ?? video.error?.code}`));
    hls.loadSource(src);
    hls.attachMedia(video);
    await new Promise((resolve) => hls.on(Hls.Events.MANIFEST_PARSED, resolve));
    hls.subtitleTrack = 0;
    await video.play();
    const started = performance.now();
    while (video.currentTime <= 2 && performance.now() - started < 60000 && !errors.some((e) => e.includes('fatal'))) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.race([subtitlesLoaded, new Promise((r) => setTimeout(r, 10000))]);
    const cues = [...video.textTracks].flatMap((track) => [...(track.cues ?? [])].map((cue) => cue.text));
    return { supported: true, currentTime: video.currentTime, errors, levels, width: video.videoWidth, subtitleTracks, cues };
  }, master);
  assert.ok(result.supported, 'hls.js supports this Chromium (MSE with H.264)');
  assert.deepEqual(result.errors, [], 'no error event');
  assert.ok(result.currentTime > 2, `playback passed 2 s (at ${result.currentTime})`);
  assert.deepEqual(result.levels.map((l) => l.height).sort((a, b) => b - a), [720, 480, 360], 'the whole ladder');
  for (const level of result.levels) {
    assert.ok(level.bitrate > 0, 'BANDWIDTH');
    assert.match(level.codecs ?? '', /avc1/, 'CODECS');
  }
  assert.ok(result.width > 0, 'frames decoded');
  assert.deepEqual(result.subtitleTracks, [{ name: 'Italiano', lang: 'it' }], 'hls.js lists the text track');
  assert.deepEqual(result.cues, ['Buongiorno a tutti'], 'and renders its cue into the video element');
  const segments = requested.filter((url) => url.endsWith('.m4s'));
  assert.ok(segments.length >= 1, 'segments were fetched');
  for (const url of segments) {
    assert.ok(url.startsWith(`${server.baseUrl}/video/${upload.mux_playback_id}/`), `${url} is under the stream's path`);
  }
  await page.close();
});
