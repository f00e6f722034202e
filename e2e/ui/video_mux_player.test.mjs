// react-datocms's <VideoPlayer> (Mux Player, @mux/mux-player-react) playing a stream through
// `customDomain` in headless Chromium (Debian's `chromium`, driven by playwright-core), issue 16.
// assetd runs with ASSETD_VIDEO_DOMAIN=assetd.test behind Debian's nginx, which terminates TLS
// with a self-signed certificate for *.assetd.test made here by openssl. Chromium sends
// stream./image.assetd.test:443 to nginx's port (--host-resolver-rules; every other name resolves
// nowhere) and trusts that one certificate by its key (--ignore-certificate-errors-spki-list).
// The page, https://www.assetd.test/, is answered by Playwright; its script is react-datocms with
// Mux Player, bundled by esbuild (in memory). Playback passes 2 s with no error; the master
// playlist, a rung's playlist and segments and the subtitle track came from
// https://stream.assetd.test/, the poster and the storyboard from https://image.assetd.test/;
// nothing went to Mux (mux.com, litix.io).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { E2E_DIR, freePort, makeClip, sleep, startServer } from '../harness.mjs';
import { bundlePage, launchChromium } from './chromium.mjs';

const NGINX = process.env.NGINX_PATH ?? '/usr/sbin/nginx';
const DOMAIN = 'assetd.test';
const STREAM = `https://stream.${DOMAIN}`;
const IMAGE = `https://image.${DOMAIN}`;
const SITE = `https://www.${DOMAIN}`;
const T = { timeout: 120000 };

// The page's script: what a DatoCMS front-end renders for a `video` field.
const ENTRY = `
import { createRoot } from 'react-dom/client';
import { VideoPlayer } from 'react-datocms/video-player';

const { data, customDomain } = window.PLAYER;
window.playerErrors = [];
createRoot(document.getElementById('root')).render(
  <VideoPlayer
    data={data}
    customDomain={customDomain}
    disableTracking
    muted
    onError={(event) => window.playerErrors.push('mux-player: ' + (event.detail?.message ?? event.detail?.code ?? 'error'))}
  />,
);
`;

let server;
let tmp;
let nginx;
let nginxExit;
let proxyPort;
let spki;
let bundle;
let context;
let userDataDir;
let upload;

function run(cmd, args) {
  const done = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(done.status, 0, `${cmd} ${args.join(' ')}: ${done.stderr}`);
  return done.stdout;
}

function nginxLog() {
  try {
    return fs.readFileSync(path.join(tmp, 'error.log'), 'utf8');
  } catch {
    return ''; // not written yet
  }
}

async function launch(name, trustCertificate) {
  const args = ['--autoplay-policy=no-user-gesture-required',
    // Mux's hosts on port 443 are nginx; any other name (mux.com, litix.io, …) resolves nowhere.
    `--host-resolver-rules=MAP *.${DOMAIN}:443 127.0.0.1:${proxyPort}, MAP * ~NOTFOUND`];
  // Trust this one certificate (by the SHA-256 of its public key), not every certificate.
  if (trustCertificate) args.push(`--ignore-certificate-errors-spki-list=${spki}`);
  return launchChromium(name, { args, viewport: { width: 800, height: 500 } });
}

before(async () => {
  server = await startServer({
    env: {
      ASSETD_VIDEO_DOMAIN: DOMAIN,
      // Behind nginx every client is 127.0.0.1: the per-client rate limit counts nginx's header.
      ASSETD_CLIENT_IP_HEADER: 'X-Forwarded-For',
      ASSETD_VIDEO_SEGMENT_SECONDS: '2',
      ASSETD_VIDEO_PRESET: 'ultrafast',
    },
  });
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-mux-player-'));

  // The clip, created with the official client; the stream is made while the rest is set up.
  const clip = makeClip(path.join(tmp, 'clip.mp4'), { size: '854x480', seconds: 8 });
  const created = await server.client.uploads.createFromLocalFile({ localPath: clip });

  // A self-signed certificate for the stream and image hosts; Chromium is told its key's hash.
  const cert = path.join(tmp, 'cert.pem');
  const key = path.join(tmp, 'key.pem');
  run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-days', '2', '-subj', `/CN=*.${DOMAIN}`, '-keyout', key, '-out', cert,
    '-addext', `subjectAltName=DNS:*.${DOMAIN},DNS:stream.${DOMAIN},DNS:image.${DOMAIN}`]);
  const publicKey = new X509Certificate(fs.readFileSync(cert)).publicKey.export({ type: 'spki', format: 'der' });
  spki = createHash('sha256').update(publicKey).digest('base64');

  // nginx in front of assetd, as a deployment would put it: TLS ends here, the Host goes through.
  proxyPort = await freePort();
  for (const dir of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) fs.mkdirSync(path.join(tmp, dir));
  fs.writeFileSync(path.join(tmp, 'nginx.conf'), `
daemon off;
worker_processes 1;
pid ${tmp}/nginx.pid;
error_log ${tmp}/error.log info;
events { worker_connections 256; }
http {
  access_log ${tmp}/access.log;
  client_body_temp_path ${tmp}/client_body;
  proxy_temp_path ${tmp}/proxy;
  fastcgi_temp_path ${tmp}/fastcgi;
  uwsgi_temp_path ${tmp}/uwsgi;
  scgi_temp_path ${tmp}/scgi;
  server {
    listen 127.0.0.1:${proxyPort} ssl http2;
    server_name stream.${DOMAIN} image.${DOMAIN};
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    location / {
      proxy_pass http://127.0.0.1:${server.port};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The Host with its port, if any: assetd names image.<parent of the Host> in storyboard.vtt
      # ($host would drop a port other than 443, and the storyboard's image with it).
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      # Segments and MP4s stream through as assetd sends them, never spooled to disk.
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }
}
`);
  nginx = spawn(NGINX, ['-p', tmp, '-e', path.join(tmp, 'error.log'), '-c', path.join(tmp, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let nginxStderr = '';
  nginx.stderr.on('data', (chunk) => { nginxStderr += chunk; });
  nginxExit = new Promise((resolve) => nginx.on('exit', resolve));

  // The page's script, bundled as a front-end build would (React in production mode).
  bundle = await bundlePage(ENTRY, E2E_DIR, 'player.jsx');

  for (let tries = 0; ; tries++) {
    if (nginx.exitCode !== null) assert.fail(`nginx exited: ${nginxStderr}${nginxLog()}`);
    if (nginxLog().includes('start worker process')) break;
    assert.ok(tries < 100, `nginx did not start: ${nginxStderr}${nginxLog()}`);
    await sleep(100);
  }

  const deadline = Date.now() + 90000;
  for (;;) {
    upload = await server.client.uploads.find(created.id);
    if (upload.mux_playback_id) break;
    assert.notEqual(upload.meta?.video?.status, 'errored', JSON.stringify(upload.meta));
    assert.ok(Date.now() < deadline, 'the stream was not ready within 90 s');
    await sleep(300);
  }
  const { Resources } = await import('@datocms/cma-client-node');
  const vtt = path.join(tmp, 'it.vtt');
  fs.writeFileSync(vtt, 'WEBVTT\n\n00:00:00.200 --> 00:00:07.500\nBuongiorno a tutti\n');
  await new Resources.UploadTrack(server.client).createFromLocalFile(upload.id, {
    localPath: vtt, type: 'subtitles', name: 'Italiano', language_code: 'it',
  });

  ({ context, userDataDir } = await launch('mux-player', true));
  // Here the stream host is 127.0.0.1, a loopback address, which Chromium's Local Network Access
  // keeps from a page it counts as public (ours has no address: Playwright answers it) unless the
  // page may. In a deployment, stream. and image. have public addresses: no permission is asked.
  await context.grantPermissions(['local-network-access'], { origin: SITE });
  // The front-end's origin is answered by Playwright; stream. and image. go to nginx.
  await context.route(`${SITE}/**`, (route) => {
    if (new URL(route.request().url()).pathname === '/player.js') {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: bundle });
    }
    const data = {
      muxPlaybackId: upload.mux_playback_id, title: 'Test pattern', width: upload.width, height: upload.height,
    };
    return route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><html><body style="margin:0"><div id="root" style="width:640px"></div>'
        + `<script>window.PLAYER = ${JSON.stringify({ data, customDomain: DOMAIN })};</script>`
        + '<script type="module" src="/player.js"></script></body></html>',
    });
  });
}, T);

after(async () => {
  await context?.close();
  if (nginx && nginx.exitCode === null) {
    nginx.kill('SIGTERM');
    await nginxExit;
  }
  await server?.stop();
  for (const dir of [userDataDir, tmp]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

test('without the certificate trusted, Chromium refuses the stream host', T, async () => {
  const { context: untrusted, userDataDir: dir } = await launch('mux-player-untrusted', false);
  try {
    const page = await untrusted.newPage();
    await assert.rejects(page.goto(`${STREAM}/${upload.mux_playback_id}.m3u8`), /ERR_CERT_AUTHORITY_INVALID/);
  } finally {
    await untrusted.close();
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('react-datocms VideoPlayer plays the stream through customDomain past 2 s, nothing sent to Mux', T, async () => {
  const page = await context.newPage();
  const seen = []; // { url, status } or { url, failure } of every request the page made, as it ended
  const consoleErrors = [];
  page.on('console', (message) => { if (message.type() === 'error') consoleErrors.push(message.text()); });
  page.on('pageerror', (error) => consoleErrors.push(`pageerror: ${error.message}`));
  page.on('requestfinished', async (request) => {
    seen.push({ url: request.url(), status: (await request.response())?.status() });
  });
  page.on('requestfailed', (request) => seen.push({ url: request.url(), failure: request.failure()?.errorText }));

  await page.goto(`${SITE}/`);
  // The lazy Mux Player shows a placeholder <mux-player> (no playback id) until it has loaded.
  const PLAYER = 'mux-player:not([data-mux-player-react-lazy-placeholder])';
  await page.waitForFunction((sel) => document.querySelector(sel)?.media?.nativeEl, PLAYER, { timeout: 20000 });
  const result = await page.evaluate(async (sel) => {
    const player = document.querySelector(sel);
    const video = player.media.nativeEl;
    const errors = window.playerErrors;
    const wait = async (done, ms) => {
      const started = performance.now();
      while (!done() && performance.now() - started < ms && errors.length === 0) {
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    video.addEventListener('error', () => errors.push(`video element: ${video.error?.message || video.error?.code}`));
    // play()'s promise settles only once playback starts: not awaited, its failure is an error.
    player.play().catch((error) => errors.push(`play(): ${error.message}`));
    await wait(() => video.currentTime > 2, 30000);
    const currentTime = video.currentTime;
    // The subtitle track, turned on as the captions menu does: hls.js loads it from the stream host.
    await wait(() => [...video.textTracks].some((t) => t.kind === 'subtitles'), 5000);
    const subtitles = [...video.textTracks].find((t) => t.kind === 'subtitles');
    if (subtitles) subtitles.mode = 'showing';
    await wait(() => subtitles?.cues?.length > 0, 10000);
    return {
      currentTime,
      errors: [...errors],
      src: player.media.src,
      width: video.videoWidth,
      subtitles: subtitles && { label: subtitles.label, language: subtitles.language },
      cues: [...(subtitles?.cues ?? [])].map((cue) => cue.text),
    };
  }, PLAYER);
  // Pointing at the timeline shows a preview from the storyboard (its image is fetched then).
  await page.locator(`${PLAYER} media-time-range`).first().hover({ position: { x: 60, y: 5 }, timeout: 5000 })
    .catch(() => {});
  const storyboardImage = `${IMAGE}/${upload.mux_playback_id}/storyboard.webp`;
  for (let i = 0; i < 50 && !seen.some((r) => r.url.startsWith(storyboardImage)); i++) await sleep(100);
  await page.close();

  const log = seen.map((r) => `${r.status ?? r.failure} ${r.url}`).join('\n');
  if (process.env.E2E_VERBOSE) process.stderr.write(`${log}\n`);
  const id = upload.mux_playback_id;
  assert.deepEqual(result.errors, [], `no error event\n${log}\n${consoleErrors.join('\n')}`);
  assert.ok(result.currentTime > 2, `playback passed 2 s (at ${result.currentTime})\n${log}`);
  assert.ok(result.width > 0, 'frames decoded');
  // Mux Player adds `?redundant_streams=true` (Mux's failover between CDNs), which assetd ignores.
  const src = new URL(result.src);
  assert.equal(`${src.origin}${src.pathname}`, `${STREAM}/${id}.m3u8`, 'Mux Player asked customDomain for the stream');
  assert.deepEqual(result.subtitles, { label: 'Italiano', language: 'it' }, 'the subtitle track is listed');
  assert.deepEqual(result.cues, ['Buongiorno a tutti'], 'and its cue reaches the video element');

  // Each kind of request came through nginx from the host Mux Player built from customDomain, and
  // was answered. A request the player itself cancelled (a track re-rendered: ERR_ABORTED) is no
  // failure; any other failure or HTTP error is.
  const failed = seen.filter((r) => (r.failure && r.failure !== 'net::ERR_ABORTED') || r.status >= 400);
  const isCastSdk = (r) => r.url.startsWith('https://www.gstatic.com/cv/js/sender/');
  assert.deepEqual(failed.filter((r) => !isCastSdk(r)), [], `no request failed\n${log}`);
  const answered = (host, pattern, what) => {
    const hits = seen.filter((r) => {
      const url = new URL(r.url);
      return url.origin === host && pattern.test(url.pathname) && (r.status === 200 || r.status === 206);
    });
    assert.ok(hits.length > 0, `${what} was fetched from ${host}\n${log}`);
  };
  answered(STREAM, new RegExp(`^/${id}\\.m3u8$`), 'the master playlist');
  answered(STREAM, new RegExp(`^/${id}/[^/]+/[^/]+/index\\.m3u8$`), "a rung's playlist");
  answered(STREAM, new RegExp(`^/${id}/[^/]+/[^/]+/init_0\\.mp4$`), "a rung's init segment");
  answered(STREAM, new RegExp(`^/${id}/[^/]+/[^/]+/seg_\\d+\\.m4s$`), 'a segment');
  answered(STREAM, new RegExp(`^/${id}/tracks/[^/]+\\.m3u8$`), "the subtitle track's playlist");
  answered(STREAM, new RegExp(`^/${id}/tracks/[^/]+\\.vtt$`), "the subtitle track's WebVTT");
  answered(IMAGE, new RegExp(`^/${id}/thumbnail\\.webp$`), 'the poster');
  answered(IMAGE, new RegExp(`^/${id}/storyboard\\.vtt$`), "the storyboard's cues");
  answered(IMAGE, new RegExp(`^/${id}/storyboard\\.webp$`), "the storyboard's image (named by its cues)");

  // Nothing went to Mux: no stream.mux.com/image.mux.com, no Mux Data beacons (litix.io), as
  // VideoPlayer sets disableTracking. The one other host is Google's: media-chrome's Cast button
  // (castable-video) adds the Cast sender SDK to the page in Chrome; here it resolves nowhere.
  const offSite = seen.filter((r) => {
    const url = new URL(r.url);
    return !['data:', 'blob:'].includes(url.protocol) && ![SITE, STREAM, IMAGE].includes(url.origin);
  });
  assert.deepEqual(offSite.filter((r) => /(^|\.)(mux\.com|litix\.io)$/.test(new URL(r.url).hostname)), [], log);
  assert.deepEqual(offSite.filter((r) => !isCastSdk(r)), [], `no other host was asked\n${log}`);
});
