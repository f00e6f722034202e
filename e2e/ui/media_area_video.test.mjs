// A video in the browser Media Area (/ui) in headless Chromium (Debian's `chromium`, driven by
// playwright-core), issue 16: a clip created with the official client; once its stream is ready its
// detail panel plays it through the vendored hls.js (loaded only when the detail opens; playlists
// and segments fetched by script, the <video> fed a MediaSource blob: URL) past 1.5 s with no
// error; the timeline seeks to 3 s and "Use current frame as poster" saves poster_time ≈ 3 (read
// back with the official client), the poster picture's URL and the served thumbnail follow; "Reset
// to default (middle)" sets it to null. A clip longer than ASSETD_VIDEO_MAX_DURATION, whose stream
// is `errored`, shows meta.video's error and plays its original file. No CSP violation, console
// error or failed request.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { makeClip, sleep, startServer } from '../harness.mjs';
import { launchChromium } from './chromium.mjs';

const T = { timeout: 120000 };
const md5 = (bytes) => createHash('md5').update(bytes).digest('hex');

let server;
let context;
let page;
let userDataDir;
let tmp;
let upload;
let tooLong; // an upload whose stream is errored
const problems = []; // console errors, CSP violations, failed requests, page errors
const requests = []; // { url, type } of every request the page made

/** The upload's poster_time as the official client reads it (either metadata shape). */
async function posterTime() {
  const meta = (await server.client.uploads.find(upload.id)).default_field_metadata;
  return meta.en ? meta.en.poster_time : meta.poster_time;
}

async function bytesOf(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return Buffer.from(await response.arrayBuffer());
}

before(async () => {
  server = await startServer({
    env: {
      ASSETD_VIDEO_SEGMENT_SECONDS: '2', ASSETD_VIDEO_PRESET: 'ultrafast', ASSETD_VIDEO_LADDER: '720,360',
      ASSETD_VIDEO_MAX_DURATION: '6',
    },
  });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-ui-video-'));
  const clip = (name, size, seconds) => makeClip(path.join(tmp, name), { size, seconds });
  // 5 s: its middle (the default poster) is not the 3 s picked below.
  const created = await server.client.uploads.createFromLocalFile({ localPath: clip('city-timelapse.mp4', '1280x720', 5) });
  const long = await server.client.uploads.createFromLocalFile({ localPath: clip('long-take.mp4', '320x180', 7) });
  const deadline = Date.now() + 90000;
  for (;;) {
    upload = await server.client.uploads.find(created.id);
    tooLong = await server.client.uploads.find(long.id);
    if (upload.mux_playback_id && tooLong.meta?.video?.status === 'errored') break;
    assert.notEqual(upload.meta?.video?.status, 'errored', JSON.stringify(upload.meta));
    assert.ok(Date.now() < deadline, `the stream was not ready within 90 s: ${JSON.stringify([upload.meta, tooLong.meta])}`);
    await sleep(300);
  }
  ({ context, userDataDir } = await launchChromium('ui-video', {
    args: ['--autoplay-policy=no-user-gesture-required'],
    viewport: { width: 1360, height: 860 },
    deviceScaleFactor: 1,
  }));
  // CSP violations are reported as console errors (the init script is not subject to the policy).
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url ?? '';
    // Expected: 404s of job results still running (how jobs are polled), and the browser's own
    // /favicon.ico (the page names no icon; assetd answers it as an unauthenticated CMA call).
    if (/status of 404/.test(msg.text()) && where.includes('/job-results/')) return;
    if (where === `${server.baseUrl}/favicon.ico`) return;
    problems.push(`console: ${msg.text()} @ ${where}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => requests.push({ url: request.url(), type: request.resourceType() }));
  page.on('requestfailed', (request) => {
    // A picture replaced before it loaded (a new poster URL), or a range request the media element
    // dropped (it does so as it buffers and pauses), is not a failure.
    if (request.failure()?.errorText === 'net::ERR_ABORTED' && ['image', 'media'].includes(request.resourceType())) return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });
});

after(async () => {
  await context?.close();
  await server?.stop();
  for (const dir of [userDataDir, tmp]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

const video = () => page.locator('#video-player');
const poster = () => page.locator('#detail img.poster');

test('the detail of a video plays its stream through the vendored hls.js, loaded only then', T, async () => {
  await page.goto(`${server.baseUrl}/ui`);
  await page.getByLabel('API token').fill(server.token);
  await page.keyboard.press('Enter');
  const card = page.locator('#grid .card[aria-label^="city-timelapse.mp4,"]');
  await card.waitFor();
  assert.ok(!requests.some((r) => r.url.endsWith('/ui/hls.min.js')), 'hls.js is not loaded with the page');

  await card.click();
  await page.locator('#detail').getByRole('heading', { name: 'Video', exact: true }).waitFor();
  await page.locator('#video-player[data-player="hls.js"]').waitFor({ state: 'attached', timeout: 20000 });
  assert.equal(await video().getAttribute('data-source'), 'stream');
  const played = await video().evaluate(async (v) => {
    v.muted = true;
    await v.play();
    const started = performance.now();
    while (v.currentTime <= 1.5 && !v.error && performance.now() - started < 30000) {
      await new Promise((r) => setTimeout(r, 100));
    }
    v.pause();
    return { currentTime: v.currentTime, error: v.error?.message ?? null, src: v.currentSrc, width: v.videoWidth };
  });
  assert.equal(played.error, null, 'no error on the video element');
  assert.ok(played.currentTime > 1.5, `playback passed 1.5 s (at ${played.currentTime})`);
  assert.match(played.src, /^blob:/, 'fed through Media Source Extensions');
  assert.ok(played.width > 0, 'frames decoded');

  const hlsJs = requests.filter((r) => r.url === `${server.baseUrl}/ui/hls.min.js`);
  assert.equal(hlsJs.length, 1, 'hls.js is fetched once, when the detail opens');
  const master = requests.filter((r) => r.url === `${server.baseUrl}/video/${upload.mux_playback_id}.m3u8`);
  assert.ok(master.length >= 1, 'the master playlist was fetched');
  assert.ok(master.every((r) => r.type === 'xhr' || r.type === 'fetch'), `by script (hls.js), not by the media element: ${JSON.stringify(master)}`);
  const segments = requests.filter((r) => r.url.endsWith('.m4s'));
  assert.ok(segments.length >= 1, 'segments were fetched');
  for (const { url } of segments) {
    assert.ok(url.startsWith(`${server.baseUrl}/video/${upload.mux_playback_id}/`), `${url} is under the stream's path`);
  }
  const thumbnail = await video().getAttribute('poster');
  assert.match(thumbnail, new RegExp(`^/video/${upload.mux_playback_id}/thumbnail\\.jpg\\?width=640&v=`), 'the poster is the stream thumbnail');
});

test('the timeline seeks; "Use current frame as poster" saves poster_time and the poster follows', T, async () => {
  const before = await poster().getAttribute('src');
  assert.doesNotMatch(before, /time=/, 'no poster time yet: the default thumbnail');
  assert.equal(await page.getByRole('button', { name: 'Reset to default (middle)' }).isDisabled(), true);
  const defaultBytes = await bytesOf(`${server.baseUrl}/video/${upload.mux_playback_id}/thumbnail.jpg?width=320`);

  // The timeline (a range input) seeks the player, and shows the storyboard's tile there.
  await page.locator('#poster-timeline').fill('3');
  await page.waitForFunction(() => {
    const v = document.getElementById('video-player');
    return Math.abs(v.currentTime - 3) < 0.05 && !v.seeking;
  });
  assert.match(await page.locator('#poster-readout').textContent(), /^0:03\.00 \/ 0:05\.\d\d$/);
  const tile = await page.locator('.storyboard-tile').evaluate((el) => ({ hidden: el.closest('figure').hidden, image: el.style.backgroundImage }));
  assert.equal(tile.hidden, false);
  assert.match(tile.image, /\/video\/[^/]+\/storyboard\.jpg/);
  assert.equal(await page.locator('.poster-frames figcaption').first().textContent(), 'Frame at 0:03.00');

  await page.getByRole('button', { name: 'Use current frame as poster' }).click();
  await page.locator('#detail').getByText('Poster set to 0:03.00').waitFor();
  const saved = await posterTime();
  assert.ok(Math.abs(saved - 3) < 0.05, `poster_time ≈ 3 (${saved})`);
  const after = await poster().getAttribute('src');
  assert.notEqual(after, before, 'the poster picture has a new URL');
  assert.match(after, /time=3(&|$)/);
  assert.match(await video().getAttribute('poster'), /time=3(&|$)/, 'and so has the player\'s poster');
  await page.waitForFunction(() => { const i = document.querySelector('#detail img.poster'); return i.complete && i.naturalWidth > 0; });
  assert.equal(await poster().getAttribute('alt'), 'Poster frame at 0:03.00');
  // The server's default thumbnail (no time) now shows the frame at 3 s, not the middle.
  const followed = await bytesOf(`${server.baseUrl}/video/${upload.mux_playback_id}/thumbnail.jpg?width=320`);
  assert.notEqual(md5(followed), md5(defaultBytes), 'the default thumbnail changed');
  assert.equal(md5(followed), md5(await bytesOf(`${server.baseUrl}/video/${upload.mux_playback_id}/thumbnail.jpg?width=320&time=${saved}`)));
});

test('"Reset to default (middle)" sets poster_time to null; closing the panel stops the player', T, async () => {
  const before = await poster().getAttribute('src');
  await page.getByRole('button', { name: 'Reset to default (middle)' }).click();
  await page.locator('#detail').getByText('Poster reset to the middle').waitFor();
  assert.equal(await posterTime(), null);
  const after = await poster().getAttribute('src');
  assert.notEqual(after, before);
  assert.doesNotMatch(after, /time=/);
  assert.equal(await poster().getAttribute('alt'), 'Poster frame: the middle (default)');
  assert.equal(await page.getByRole('button', { name: 'Reset to default (middle)' }).isDisabled(), true);
  await page.waitForFunction(() => { const i = document.querySelector('#detail img.poster'); return i.complete && i.naturalWidth > 0; });
  // Closing the panel stops the player.
  await page.getByRole('button', { name: 'Close details' }).click();
  await page.locator('#detail').waitFor({ state: 'hidden' });
  const detached = await video().evaluate((v) => ({ paused: v.paused, src: v.getAttribute('src'), empty: v.networkState === v.NETWORK_EMPTY }));
  assert.deepEqual(detached, { paused: true, src: null, empty: true }, 'the stream is detached');
});

test('a video whose stream is errored shows why and plays its original file; no policy was broken', T, async () => {
  await page.locator('#grid .card[aria-label^="long-take.mp4,"]').click();
  const state = page.locator('#detail .video-state.error');
  await state.waitFor();
  assert.match(await state.textContent(), /^The stream could not be made: the video is longer than the 6 s a stream is made for/);
  assert.equal(await video().getAttribute('data-source'), 'original');
  assert.equal(await video().getAttribute('src'), tooLong.url, 'the original, from the asset origin (media-src)');
  const played = await video().evaluate(async (v) => {
    v.muted = true;
    await v.play();
    const started = performance.now();
    while (v.currentTime <= 0.5 && !v.error && performance.now() - started < 20000) await new Promise((r) => setTimeout(r, 100));
    v.pause();
    return { currentTime: v.currentTime, error: v.error?.message ?? null };
  });
  assert.equal(played.error, null);
  assert.ok(played.currentTime > 0.5, `the original plays (at ${played.currentTime})`);
  // Without a stream, the poster is the asset URL's poster frame, and there is no storyboard.
  assert.match(await poster().getAttribute('src'), new RegExp(`^${tooLong.url.replace(/[.?]/g, '\\$&')}\\?w=320&fm=jpg&v=`));
  assert.equal(await page.locator('.storyboard-tile').evaluate((el) => el.closest('figure').hidden), true);
  await page.waitForFunction(() => { const i = document.querySelector('#detail img.poster'); return i.complete && i.naturalWidth > 0; });
  assert.deepEqual(problems, []);
});
