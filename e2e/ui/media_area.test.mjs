// The browser Media Area (/ui) in headless Chromium (Debian's `chromium`, driven by
// playwright-core): sign in, upload two images by drag and drop, search, set alt text and the
// focal point (the crop previews change), replace a file keeping its URL, delete the other;
// results are checked through the API too. Screenshots of the main screens go to
// docs/screenshots/ with ASSETD_UI_SCREENSHOTS=1 (else to a temp dir).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { FIXTURES_DIR, REPO_DIR, startServer, writeFileIn } from '../harness.mjs';
import { launchChromium } from './chromium.mjs';
import { drawScene } from './scenes.mjs';

const SHOTS = process.env.ASSETD_UI_SCREENSHOTS === '1'
  ? path.join(REPO_DIR, 'docs', 'screenshots')
  : fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-ui-shots-'));
const T = { timeout: 180000 };
const md5 = (bytes) => createHash('md5').update(bytes).digest('hex');

let server;
let context;
let page;
let userDataDir;
const problems = []; // console errors, CSP violations, failed requests, page errors
const scenes = {};
let dropped = {}; // filename → upload, once in the API

async function shot(name, target = page) {
  await target.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

async function apiUploads() {
  const all = [];
  for await (const upload of server.client.uploads.listPagedIterator()) all.push(upload);
  return all;
}

before(async () => {
  await fsp.mkdir(SHOTS, { recursive: true });
  server = await startServer();
  ({ context, userDataDir } = await launchChromium('ui', { viewport: { width: 1360, height: 860 }, deviceScaleFactor: 1 }));
  // CSP violations are reported as console errors (the init script is not subject to the policy).
  await context.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  page = await context.newPage();
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const where = msg.location()?.url ?? '';
    // Expected: the wrong token's 401, and 404s of job results still running (how jobs are polled).
    if (/status of 401/.test(msg.text()) || (/status of 404/.test(msg.text()) && where.includes('/job-results/'))) return;
    problems.push(`console: ${msg.text()} @ ${where}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A thumbnail dropped because the grid was redrawn is not a failure.
    if (request.failure()?.errorText === 'net::ERR_ABORTED' && request.resourceType() === 'image') return;
    problems.push(`request failed: ${request.url()} ${request.failure()?.errorText}`);
  });

  // Pictures, drawn on a canvas; six of them (and a PDF) already in the library through the
  // official client, so the grid looks like a real one.
  for (const name of ['mountain-sunrise', 'harbour-boats', 'alpine-lake', 'desert-dunes', 'forest-morning', 'city-night', 'lavender-field', 'ocean-sunset']) {
    scenes[name] = await drawScene(page, name);
  }
  scenes['mountain-sunrise-v2'] = await drawScene(page, 'mountain-noon');
  const dir = path.join(server.tmpDir, 'seed');
  const seeded = ['alpine-lake', 'desert-dunes', 'forest-morning', 'city-night', 'lavender-field', 'ocean-sunset'];
  await Promise.all([
    ...seeded.map((name) => server.client.uploads.createFromLocalFile({ localPath: writeFileIn(dir, `${name}.jpg`, scenes[name]) })),
    server.client.uploads.createFromLocalFile({ localPath: path.join(FIXTURES_DIR, 'doc.pdf'), filename: 'brand-guidelines.pdf' }),
  ]);
  const campaigns = await server.client.uploadCollections.create({ label: 'Campaigns' });
  const summer = await server.client.uploadCollections.create({ label: 'Summer 2026', parent: { type: 'upload_collection', id: campaigns.id } });
  await server.client.uploadCollections.create({ label: 'Press kit' });
  const [lake] = (await apiUploads()).filter((u) => u.filename === 'alpine-lake.jpg');
  await server.client.uploads.update(lake.id, { tags: ['landscape', 'homepage'], upload_collection: { type: 'upload_collection', id: summer.id } });
});

after(async () => {
  await context?.close();
  await server?.stop();
  if (userDataDir) await fsp.rm(userDataDir, { recursive: true, force: true });
  if (process.env.ASSETD_UI_SCREENSHOTS !== '1') await fsp.rm(SHOTS, { recursive: true, force: true });
});

const cards = () => page.locator('#grid .card');
const card = (filename) => page.locator(`#grid .card[aria-label^="${filename},"]`);

test('the page asks for a token, refuses a wrong one and signs in with the right one', T, async () => {
  const response = await page.goto(`${server.baseUrl}/ui`);
  assert.equal(response.status(), 200);
  assert.match(response.headers()['content-security-policy'], /default-src 'self'/);
  await page.getByLabel('API token').waitFor();
  await shot('sign-in');
  await page.getByLabel('API token').fill('not-the-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('This token is not valid.').waitFor();
  await page.getByLabel('API token').fill(server.token);
  await page.keyboard.press('Enter');
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 7);
  // Thumbnails come from our transforms, 1x and 2x, lazily, with their size set.
  const img = card('alpine-lake.jpg').locator('img');
  const [src, srcset, loading, width] = await Promise.all(['src', 'srcset', 'loading', 'width'].map((a) => img.getAttribute(a)));
  assert.match(src, /-alpine-lake\.jpg\?w=200&h=200&fit=crop&auto=format/);
  assert.match(srcset, /dpr=2.* 2x$/);
  assert.equal(loading, 'lazy');
  assert.equal(width, '200');
  await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0));
  assert.equal(await card('brand-guidelines.pdf').locator('.icon-pdf').count(), 1, 'a PDF shows its type icon');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('assetd.token')), server.token);
  await shot('grid');
});

test('the collection tree and the tags filter the grid', T, async () => {
  const sidebar = page.getByRole('navigation', { name: 'Collections and tags' });
  // The tree: Summer 2026 is nested under Campaigns.
  assert.equal(await sidebar.locator('li:has(> button:text-is("Campaigns")) ul button').textContent(), 'Summer 2026');
  await sidebar.getByRole('button', { name: 'Summer 2026' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  assert.equal(await cards().first().getAttribute('data-id'), (await apiUploads()).find((u) => u.filename === 'alpine-lake.jpg').id);
  await sidebar.getByRole('button', { name: 'Press kit' }).click();
  await page.getByText('No uploads match.').waitFor();
  await sidebar.getByRole('button', { name: '#homepage' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  await sidebar.getByRole('button', { name: 'All uploads' }).click();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 7);
});

test('two images dropped on the grid upload with a progress bar each, through the upload-request flow', T, async () => {
  const files = ['mountain-sunrise', 'harbour-boats'].map((name) => ({ name: `${name}.jpg`, b64: scenes[name].toString('base64') }));
  const puts = [];
  page.on('request', (r) => { if (r.method() === 'PUT') puts.push(r.url()); });
  // A slow uplink (DevTools throttling), so that the bars show intermediate progress.
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: -1, uploadThroughput: 12 * 1024 });
  await page.evaluate((files) => {
    const transfer = new DataTransfer();
    for (const f of files) {
      const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
      transfer.items.add(new File([bytes], f.name, { type: 'image/jpeg' }));
    }
    const zone = document.getElementById('content');
    for (const type of ['dragenter', 'dragover', 'drop']) {
      zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }
  }, files);
  const rows = page.locator('.progress-item');
  await page.waitForFunction(() => document.querySelectorAll('.progress-item').length === 2);
  await page.waitForFunction(() => [...document.querySelectorAll('.progress-item progress')].some((p) => p.value > 0 && p.value < 100), null, { timeout: 20000 });
  await shot('upload-progress');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await page.waitForFunction(() => [...document.querySelectorAll('.progress-item')].every((r) => r.classList.contains('ok')), null, { timeout: 60000 });
  for (let i = 0; i < 2; i += 1) {
    assert.equal(await rows.nth(i).locator('progress').evaluate((p) => p.value), 100);
    assert.equal(await rows.nth(i).locator('.status').textContent(), 'Done');
  }
  assert.equal(puts.length, 2, 'one PUT per file to the upload-request URL');
  assert.ok(puts.every((u) => u.includes('/put/') || !u.startsWith(server.baseUrl)), puts.join(' '));
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 9);
  await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].every((i) => i.complete && i.naturalWidth > 0));
  await page.getByText('2 uploads done').waitFor({ state: 'attached' });
  await shot('upload-done');
  const uploads = await apiUploads();
  for (const f of files) {
    const upload = uploads.find((u) => u.filename === f.name);
    assert.ok(upload, `${f.name} is in the API`);
    assert.equal(upload.md5, md5(Buffer.from(f.b64, 'base64')));
    assert.equal(upload.width, 1200);
    dropped[f.name] = upload;
  }
});

test('search narrows the grid; alt text and focal point are saved and the crop previews follow', T, async () => {
  await page.getByRole('searchbox', { name: 'Search uploads' }).fill('mountain');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 1);
  assert.equal(await cards().first().getAttribute('aria-label'), `mountain-sunrise.jpg, ${await cards().first().getAttribute('aria-label').then((l) => l.split(', ')[1])}`);
  // Keyboard: focus the card and open it with Enter.
  await cards().first().focus();
  await page.keyboard.press('Enter');
  const panel = page.locator('#detail');
  await panel.waitFor();
  assert.equal(await panel.locator('#detail-title').textContent(), 'mountain-sunrise.jpg');
  assert.deepEqual(await page.locator('#field-locale option').allTextContents(), ['en', 'it'], 'the project locales');
  await page.getByLabel('Alternative text').fill('Sunrise over the mountains');
  await page.getByLabel('Locale').selectOption('it');
  await page.getByLabel('Alternative text').fill('Alba sulle montagne');

  const crop = panel.locator('img[data-ratio="16:9"]');
  await page.waitForFunction(() => { const i = document.querySelector('img[data-ratio="16:9"]'); return i && i.complete && i.naturalWidth > 0; });
  const before = await crop.getAttribute('src');
  const beforeBytes = Buffer.from(await (await fetch(before)).arrayBuffer());
  const frame = panel.locator('.focal-frame');
  const box = await frame.boundingBox();
  await page.mouse.click(box.x + box.width * 0.5, box.y + box.height * 0.9);
  await page.waitForFunction((old) => document.querySelector('img[data-ratio="16:9"]').getAttribute('src') !== old, before);
  // Arrow keys move the point too (0.02 a press).
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowRight');
  await page.waitForFunction(() => /fp-x=0\.540/.test(document.querySelector('img[data-ratio="16:9"]').getAttribute('src')));
  await page.waitForFunction(() => [...document.querySelectorAll('.crops img')].every((i) => i.complete && i.naturalWidth > 0));
  const afterSrc = await crop.getAttribute('src');
  assert.match(afterSrc, /crop=focalpoint/);
  assert.match(afterSrc, /fp-y=0\.9/);
  const afterBytes = Buffer.from(await (await fetch(afterSrc)).arrayBuffer());
  assert.notEqual(md5(afterBytes), md5(beforeBytes), 'the 16:9 crop shows other pixels');
  await page.getByLabel('Author').fill('Ada Photographer');
  await page.getByLabel('Tags (comma-separated)').fill('landscape, hero');
  await page.getByRole('button', { name: 'Save' }).click();
  await panel.getByText('Saved', { exact: true }).waitFor();
  await panel.evaluate((el) => { el.scrollTop = 0; });
  await shot('detail');

  const saved = await server.client.uploads.find(dropped['mountain-sunrise.jpg'].id);
  const meta = saved.default_field_metadata;
  const en = meta.en ?? { alt: meta.alt?.en, focal_point: meta.focal_point };
  const it = meta.it ?? { alt: meta.alt?.it };
  assert.equal(en.alt, 'Sunrise over the mountains');
  assert.equal(it.alt, 'Alba sulle montagne');
  assert.ok(Math.abs(en.focal_point.x - 0.54) < 0.011 && Math.abs(en.focal_point.y - 0.9) < 0.011, JSON.stringify(en.focal_point));
  assert.equal(saved.author, 'Ada Photographer');
  assert.deepEqual([...saved.tags].sort(), ['hero', 'landscape']);
  // The stored point is what crop=focalpoint uses without fp-x/fp-y.
  const stored = await fetch(`${saved.url}?w=120&h=68&fit=crop&crop=focalpoint&dpr=2`);
  assert.equal(stored.status, 200);
});

test('replacing the file keeping the URL changes the bytes behind the same URL', T, async () => {
  const id = dropped['mountain-sunrise.jpg'].id;
  const oldUrl = (await server.client.uploads.find(id)).url;
  const newBytes = scenes['mountain-sunrise-v2'];
  await page.locator('#replace-file').setInputFiles({ name: 'mountain-sunrise.jpg', mimeType: 'image/jpeg', buffer: newBytes });
  assert.equal(await page.locator('#strategy-keep').isChecked(), true, 'keeping the URL is the default');
  await page.getByRole('button', { name: 'Replace file' }).click();
  await page.locator('#detail').getByText('File replaced').waitFor({ timeout: 60000 });
  const replaced = await server.client.uploads.find(id);
  assert.equal(replaced.url, oldUrl);
  assert.equal(replaced.md5, md5(newBytes));
  assert.equal(md5(Buffer.from(await (await fetch(oldUrl)).arrayBuffer())), md5(newBytes), 'the URL serves the new bytes');
  assert.equal(replaced.default_field_metadata.en?.alt ?? replaced.default_field_metadata.alt?.en, 'Sunrise over the mountains', 'metadata is kept');
  await page.keyboard.press('Escape');
  await page.locator('#detail').waitFor({ state: 'hidden' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.id), id, 'Escape gives focus back to the card');
});

test('deleting the other upload asks for confirmation, then it is gone from the grid and the API', T, async () => {
  await page.getByRole('searchbox', { name: 'Search uploads' }).fill('');
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 9);
  await card('harbour-boats.jpg').click();
  await page.waitForFunction(() => [...document.querySelectorAll('#detail img')].every((i) => i.complete && i.naturalWidth > 0));
  await page.getByRole('button', { name: 'Delete upload…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Delete this upload?' });
  await dialog.waitFor();
  await shot('delete-confirmation');
  await dialog.getByRole('button', { name: 'Cancel' }).click();
  await dialog.waitFor({ state: 'hidden' });
  assert.ok(await server.client.uploads.find(dropped['harbour-boats.jpg'].id), 'cancel deletes nothing');
  await page.getByRole('button', { name: 'Delete upload…' }).click();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 8);
  assert.equal(await card('harbour-boats.jpg').count(), 0);
  await assert.rejects(server.client.uploads.find(dropped['harbour-boats.jpg'].id), (e) => e.response?.status === 404);
  assert.ok(await server.client.uploads.find(dropped['mountain-sunrise.jpg'].id), 'the other one stays');
});

test('at phone width (375 px) nothing scrolls sideways and the detail panel is usable', T, async () => {
  await page.setViewportSize({ width: 375, height: 780 });
  await page.reload();
  await page.waitForFunction(() => document.querySelectorAll('#grid .card').length === 8);
  await page.waitForFunction(() => [...document.querySelectorAll('#grid img')].slice(0, 4).every((i) => i.complete && i.naturalWidth > 0));
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(await overflow(), 0, 'no horizontal scroll on the grid');
  await shot('phone-grid');
  await card('mountain-sunrise.jpg').click();
  const panel = page.locator('#detail');
  await panel.waitFor();
  const box = await panel.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 375.5, JSON.stringify(box));
  assert.equal(await overflow(), 0, 'no horizontal scroll with the panel open');
  await page.waitForFunction(() => [...document.querySelectorAll('.crops img')].every((i) => i.complete && i.naturalWidth > 0));
  await page.locator('#detail').evaluate((el) => { el.scrollTop = 0; });
  await shot('phone-detail');
  await page.getByLabel('Notes').fill('Shot from the ridge');
  await page.getByRole('button', { name: 'Save' }).click();
  await panel.getByText('Saved', { exact: true }).waitFor();
  assert.equal((await server.client.uploads.find(dropped['mountain-sunrise.jpg'].id)).notes, 'Shot from the ridge');
  await page.getByRole('button', { name: 'Close details' }).click();
  await panel.waitFor({ state: 'hidden' });
});

test('sign-out forgets the token; the page made no failed request and broke no policy', T, async () => {
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API token').waitFor();
  assert.equal(await page.evaluate(() => sessionStorage.getItem('assetd.token')), null);
  assert.deepEqual(problems, []);
});
