// SVGs as Chromium gets them from the real binary (defect 4 of issue 14), in headless Chromium
// (Debian's `chromium`, driven by playwright-core):
// - hostile SVGs (script under a prefixed root, after a 45 KiB comment, under an entity-declared
//   namespace; <set>/<animate> of handlers and links; @import and remote url() in CSS; remote
//   images and <use>; foreignObject) opened as documents run nothing: no dialog, no console
//   message, no request but the document's own. Each is opened twice: at its URL (with the sandbox
//   CSP header) and as its sanitised bytes served without any CSP, so the sanitiser alone is what
//   is tested; the same page with the original bytes does show the dialog (the check can fail);
// - the editor corpus (tests/fixtures/svg/: Illustrator, Inkscape, Figma, hand-written CSS) is
//   drawn on a canvas through an <img> of the original and of the served copy: same size, pixels
//   drawn, and the same pixels within a small tolerance.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { FIXTURES_DIR, startServer } from '../harness.mjs';
import { launchChromium } from './chromium.mjs';

const T = { timeout: 180000 };
// Nothing listens there: a request to it is seen by Chromium's request events all the same.
const EVIL = 'http://127.0.0.1:9';
// Pages Playwright answers itself (route) under the server's origin: a page of another origin
// could not load the server's images (Chromium's private network access rules for loopback).
let LAB;

const SCRIPT = `<script>alert('script ran'); fetch('${EVIL}/script')</script>`;
const HOSTILE = {
  'prefixed.svg': `<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="200" height="200" onload="alert('onload')">
  <svg:script>alert('prefixed script'); fetch('${EVIL}/prefixed')</svg:script>
  <svg:rect width="200" height="200" fill="#0a0"/></svg:svg>`,
  'long-prolog.svg': `<?xml version="1.0"?>\n<!--${'an exporter that talks a lot '.repeat(1600)}-->
<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">${SCRIPT}<rect width="200" height="200" fill="#0a0"/></svg>`,
  'entity-namespace.svg': `<?xml version="1.0"?>
<!DOCTYPE svg [<!ENTITY ns_svg "http://www.w3.org/2000/svg"><!ENTITY ns_xlink "http://www.w3.org/1999/xlink">]>
<svg xmlns="&ns_svg;" xmlns:xlink="&ns_xlink;" width="200" height="200">${SCRIPT}<rect width="200" height="200" fill="#0a0"/></svg>`,
  'animations.svg': `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200">
  <a id="a"><set attributeName="href" to="javascript:alert('set href')" begin="0s"/>
    <animate attributeName="xlink:href" values="javascript:alert('animate href')" begin="0s" dur="10s"/>
    <rect width="200" height="200" fill="#0a0"><set attributeName="onclick" to="alert('set onclick')" begin="0s"/>
    <set attributeName="onmouseover" to="alert('set onmouseover')" begin="0s"/></rect></a>
  <script>alert('script')</script>
</svg>`,
  'css-and-links.svg': `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="200" height="200">
  <style>@import url(${EVIL}/import.css); rect { fill: url(${EVIL}/paint.svg#p) } circle { background-image: url(${EVIL}/bg.png) }</style>
  <rect width="200" height="200" style="fill:#0a0;stroke:url(${EVIL}/stroke.svg#s)" filter="url(${EVIL}/filter.svg#f)"/>
  <circle cx="100" cy="100" r="50" fill="#050" style="mask:url('${EVIL}/mask.svg#m')"/>
  <image href="${EVIL}/pixel.png" width="10" height="10"/><use xlink:href="${EVIL}/sprite.svg#icon"/>
  <a href="javascript:alert('link')"><text x="10" y="20">click</text></a>
  <foreignObject width="200" height="200"><iframe xmlns="http://www.w3.org/1999/xhtml" src="${EVIL}/frame"/></foreignObject>
</svg>`,
};
const CORPUS = ['illustrator.svg', 'inkscape.svg', 'figma.svg', 'styled.svg'];

let server;
let context;
let userDataDir;
let tmp;
const uploaded = {}; // name → { url, bytes (what the URL serves) }

before(async () => {
  server = await startServer();
  LAB = `${server.baseUrl}/svg-lab`;
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-svg-'));
  const files = { ...HOSTILE };
  for (const name of CORPUS) files[name] = fs.readFileSync(path.join(FIXTURES_DIR, 'svg', name), 'utf8');
  for (const [name, text] of Object.entries(files)) {
    const localPath = path.join(tmp, name);
    await fsp.writeFile(localPath, text);
    const upload = await server.client.uploads.createFromLocalFile({ localPath });
    assert.equal(upload.mime_type, 'image/svg+xml', `${name} is sniffed as SVG`);
    const res = await fetch(upload.url);
    assert.equal(res.status, 200, name);
    assert.equal(res.headers.get('content-type'), 'image/svg+xml', name);
    assert.equal(res.headers.get('content-disposition'), null, `${name} is shown inline (sanitised)`);
    uploaded[name] = { url: upload.url, original: text, served: Buffer.from(await res.arrayBuffer()) };
  }
  ({ context, userDataDir } = await launchChromium('svg', { viewport: { width: 400, height: 400 }, deviceScaleFactor: 1 }));
  // The lab origin: SVG bytes as a document without any CSP header, and a blank page for canvases.
  await context.route(`${LAB}/**`, async (route) => {
    const url = new URL(route.request().url());
    const [, , kind, name] = url.pathname.split('/');
    if (kind === 'page') return route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><body></body>' });
    const entry = uploaded[name];
    if (!entry) return route.fulfill({ status: 404, body: '' });
    const body = kind === 'original' ? entry.original : entry.served;
    return route.fulfill({ status: 200, contentType: 'image/svg+xml', body });
  });
}, T);

after(async () => {
  await context?.close();
  await server?.stop();
  for (const dir of [userDataDir, tmp]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

/** Opens `url` as a document, hovers and clicks where the drawing is, and reports what ran. */
async function openAsDocument(url) {
  const page = await context.newPage();
  const seen = { dialogs: [], console: [], requests: [], errors: [] };
  page.on('dialog', async (dialog) => {
    seen.dialogs.push(dialog.message());
    await dialog.dismiss();
  });
  page.on('console', (msg) => seen.console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (error) => seen.errors.push(error.message));
  page.on('request', (request) => {
    const asked = request.url();
    if (asked !== url && !asked.endsWith('/favicon.ico')) seen.requests.push(asked);
  });
  const response = await page.goto(url, { waitUntil: 'load' });
  assert.equal(response.status(), 200, url);
  await page.mouse.move(100, 100);
  await page.mouse.click(100, 100);
  await page.mouse.click(15, 15);
  await page.waitForTimeout(300);
  await page.close();
  return seen;
}

test('hostile SVGs run nothing in Chromium, with or without the CSP header', T, async () => {
  for (const name of Object.keys(HOSTILE)) {
    const served = uploaded[name].served.toString('utf8');
    assert.ok(!/script|alert|127\.0\.0\.1:9|onload|onclick/.test(served), `${name} sanitised: ${served}`);
    for (const url of [uploaded[name].url, `${LAB}/served/${name}`]) {
      const seen = await openAsDocument(url);
      assert.deepEqual(seen, { dialogs: [], console: [], requests: [], errors: [] }, `${name} at ${url}`);
    }
  }
  // The same check sees what the originals do without the sanitiser and the header.
  for (const name of ['prefixed.svg', 'long-prolog.svg', 'entity-namespace.svg']) {
    const seen = await openAsDocument(`${LAB}/original/${name}`);
    assert.ok(seen.dialogs.length > 0, `${name}: the unsanitised original runs its script (${JSON.stringify(seen)})`);
  }
});

test('editor output displays as its original does', T, async () => {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1000, height: 600 });
  await page.goto(`${LAB}/page/blank`);
  for (const name of CORPUS) {
    // Each image alone on the page, screenshot with a transparent background: a canvas of the
    // original <img> would be tainted (Chromium taints SVG images holding a foreignObject, as
    // Illustrator's <switch> does), a screenshot is not.
    const shots = {};
    for (const [which, src] of [['original', `${LAB}/original/${name}`], ['served', uploaded[name].url]]) {
      const size = await page.evaluate(async (src) => {
        document.body.replaceChildren();
        document.body.style.margin = '0';
        const img = new Image();
        img.src = src;
        document.body.append(img);
        try {
          await img.decode();
        } catch (error) {
          return { width: 0, height: 0, error: String(error) };
        }
        return { width: img.naturalWidth, height: img.naturalHeight };
      }, src);
      assert.ok(size.width > 0 && size.height > 0, `${name} (${which}) displays: naturalWidth > 0 (${JSON.stringify(size)})`);
      const png = await page.locator('img').screenshot({ omitBackground: true });
      shots[which] = { ...size, png: `data:image/png;base64,${png.toString('base64')}` };
    }
    assert.ok(shots.served.width > 0, `${name}: naturalWidth > 0`);
    assert.deepEqual([shots.served.width, shots.served.height], [shots.original.width, shots.original.height], `${name}: same size`);
    const result = await page.evaluate(async ({ a, b }) => {
      async function pixels(src) {
        const img = new Image();
        img.src = src;
        await img.decode();
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        const ctx = canvas.getContext('2d');
        ctx.drawImage(img, 0, 0);
        return ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      }
      const [pa, pb] = [await pixels(a), await pixels(b)];
      if (pa.length !== pb.length) return { sizes: [pa.length, pb.length] };
      let drawn = 0;
      let differing = 0;
      let total = 0;
      for (let i = 0; i < pa.length; i += 4) {
        if (pb[i + 3] > 0) drawn += 1;
        const d = Math.max(...[0, 1, 2, 3].map((k) => Math.abs(pa[i + k] - pb[i + k])));
        total += d;
        if (d > 16) differing += 1;
      }
      const n = pa.length / 4;
      return { drawn: drawn / n, differing: differing / n, meanDiff: total / n };
    }, { a: shots.original.png, b: shots.served.png });
    assert.ok(result.drawn > 0.2, `${name}: the served copy draws pixels (${JSON.stringify(result)})`);
    assert.ok(result.differing < 0.005 && result.meanDiff < 1, `${name}: drawn as the original is (${JSON.stringify(result)})`);
    process.stdout.write(`# ${name}: ${shots.served.width}x${shots.served.height}, ${JSON.stringify(result)}\n`);
  }
  await page.close();
});
