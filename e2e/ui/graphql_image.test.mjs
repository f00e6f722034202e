// react-datocms's <Image> and <SRCImage> (8.x's deprecated alias of <RSCImage>) rendering the
// `responsiveImage` assetd's GraphQL edge answers (issue 17), in headless Chromium (Debian's
// `chromium`, driven by playwright-core). A 1600×1000 JPEG is uploaded with the CMA client and
// its responsiveImage asked for through @datocms/cda-client, cropped (`fit: crop, w: 600, h: 400,
// auto: format`) and without parameters. The page, https://app.test/, is answered by Playwright;
// its script is react + react-datocms bundled by esbuild (in memory). Each component renders
// each answer on its own page at two viewport widths, with its requests to assetd held first:
// - the <source>/<img> attributes are the answer's (srcSet, webpSrcSet, src, sizes, alt, title);
// - while the image is held, the placeholder is the answer's `base64` (<Image>: a visible <img>
//   with that src over the box; <SRCImage>: the <img>'s background image), what a screenshot of
//   the box shows is that image (mean colours of a 4×4 grid) and the reserved box already has the
//   answer's aspect ratio;
// - once released, the image loads, the placeholder fades out, the box keeps its size, the text
//   below does not move and Chromium records no layout shift (a bare <img> on the same page,
//   the counter-example, moves the text and is recorded);
// - every response the browser got from assetd is 200 with an image as wide as the srcset says,
//   and every URL of every srcset is fetched from Node too (with Chromium's Accept and with
//   `image/jpeg`) and measured: width = its descriptor, height = width / aspectRatio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { executeQuery } from '@datocms/cda-client';
import { E2E_DIR, getBytes, jpegSize, sleep, useServer } from '../harness.mjs';
import { bundlePage, launchChromium } from './chromium.mjs';

const SITE = 'https://app.test';
const T = { timeout: 120000 };
const WIDTHS = [1000, 375]; // viewport widths: the cropped image at its 600 px, then everything at 100vw
const DPR = 2; // a retina screen: the browser picks a candidate above 1×

// The page's script: what a DatoCMS front-end renders for an image field, with a line of text
// below it (a layout jump would move it) and Chromium's layout shifts recorded from the start.
const ENTRY = `
import { createRoot } from 'react-dom/client';
import { Image } from 'react-datocms/image';
import { RSCImage, SRCImage } from 'react-datocms/rsc-image';

window.layoutShifts = [];
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) window.layoutShifts.push(entry.value);
}).observe({ type: 'layout-shift', buffered: true });
window.sameComponent = SRCImage === RSCImage;
const { component, data } = window.CASE;
// 'bare' is the counter-example: an <img> with no size reserved, as a page without the components.
const Bare = ({ data }) => <img src={data.src} alt="" style={{ maxWidth: '100%' }} />;
const Component = { Image, SRCImage, bare: Bare }[component];
createRoot(document.getElementById('root')).render(
  <>
    <div id="frame"><Component data={data} /></div>
    <p id="below" style={{ margin: 0 }}>The text below the image.</p>
  </>,
);
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-gql-image-'));
let bundle;
let context;
let userDataDir;
const cases = {}; // key → { component, data }, read by the page's route

const FRAGMENT = 'src srcSet webpSrcSet sizes width height aspectRatio alt title base64 bgColor';

const srv = useServer({}, async (ctx) => {
  const photo = path.join(tmp, 'photo.jpg');
  const made = spawnSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i',
    'testsrc2=size=1600x1000', '-frames:v', '1', '-q:v', '3', photo], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  ctx.upload = await ctx.client.uploads.createFromLocalFile({
    localPath: photo,
    default_field_metadata: {
      en: { alt: 'A test card', title: 'Card', custom_data: {}, focal_point: { x: 0.3, y: 0.6 } },
    },
  });
  const answer = await executeQuery(`
    query ($id: UploadId) {
      upload(filter: { id: { eq: $id } }) {
        cropped: responsiveImage(imgixParams: { fit: crop, w: 600, h: 400, auto: format }) { ${FRAGMENT} }
        plain: responsiveImage { ${FRAGMENT} }
      }
    }`, { token: ctx.token, variables: { id: ctx.upload.id }, graphqlEndpointUrl: `${ctx.baseUrl}/graphql` });
  ctx.images = answer.upload;

  bundle = await bundlePage(ENTRY, E2E_DIR, 'image.jsx');

  ({ context, userDataDir } = await launchChromium('graphql-image', { deviceScaleFactor: DPR }));
  // assetd is on 127.0.0.1, a loopback address, which Chromium's Local Network Access keeps from a
  // page it counts as public (ours has no address: Playwright answers it) unless the page may.
  await context.grantPermissions(['local-network-access'], { origin: SITE });
  await context.route(`${SITE}/**`, (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/image.js') {
      return route.fulfill({ status: 200, contentType: 'text/javascript', body: bundle });
    }
    const page = cases[url.searchParams.get('case')];
    if (!page) return route.fulfill({ status: 404, body: 'no such case' });
    return route.fulfill({
      status: 200,
      contentType: 'text/html',
      body: '<!doctype html><html><body style="margin:0"><div id="root"></div>'
        + `<script>window.CASE = ${JSON.stringify(page).replace(/</g, '\\u003c')};</script>`
        + '<script type="module" src="/image.js"></script></body></html>',
    });
  });
});

test.after(async () => {
  await context?.close();
  for (const dir of [userDataDir, tmp]) if (dir) await fsp.rm(dir, { recursive: true, force: true });
});

/** Width, height and type of a JPEG, PNG, WebP (VP8, VP8L, VP8X) or AVIF (its `ispe`). */
function imageSize(buf) {
  if (buf.length > 3 && buf.readUInt16BE(0) === 0xffd8) return { type: 'image/jpeg', ...jpegSize(buf) };
  if (buf.subarray(1, 4).toString('latin1') === 'PNG') {
    return { type: 'image/png', width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }
  if (buf.subarray(0, 4).toString('latin1') === 'RIFF' && buf.subarray(8, 12).toString('latin1') === 'WEBP') {
    const chunk = buf.subarray(12, 16).toString('latin1');
    if (chunk === 'VP8 ') {
      assert.equal(buf.subarray(23, 26).toString('hex'), '9d012a', 'a VP8 key frame');
      return { type: 'image/webp', width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
    }
    if (chunk === 'VP8L') {
      const bits = buf.readUInt32LE(21);
      return { type: 'image/webp', width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      return { type: 'image/webp', width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
    }
    assert.fail(`a WebP with a ${chunk} chunk`);
  }
  if (buf.subarray(4, 8).toString('latin1') === 'ftyp' && /avi[fs]/.test(buf.subarray(8, 32).toString('latin1'))) {
    const at = buf.indexOf('ispe');
    assert.ok(at > 0, 'an AVIF with an ispe box');
    return { type: 'image/avif', width: buf.readUInt32BE(at + 8), height: buf.readUInt32BE(at + 12) };
  }
  return assert.fail(`not an image: ${buf.subarray(0, 16).toString('hex')}`);
}

/** `url 123w,…` → [[url, 123], …] */
const entries = (srcSet) => srcSet.split(',').map((entry) => {
  const [url, descriptor, ...rest] = entry.trim().split(/\s+/);
  assert.deepEqual(rest, [], entry);
  assert.match(descriptor, /^\d+w$/, entry);
  return [url, Number.parseInt(descriptor, 10)];
});

/** Every URL of a responsiveImage with the width it claims: src (the 1× width) and both srcsets. */
function claimedWidths(image) {
  const widths = new Map([[image.src, image.width]]);
  for (const [url, width] of [...entries(image.srcSet), ...entries(image.webpSrcSet)]) {
    assert.ok(!widths.has(url) || widths.get(url) === width, `${url} is claimed at one width`);
    widths.set(url, width);
  }
  return widths;
}

/** An answer of assetd: 200, an image of the claimed width, its height the declared aspect ratio's. */
function checkImage(image, url, { status, type, body }, what) {
  const claimed = claimedWidths(image).get(url);
  assert.ok(claimed, `${what}: ${url} is in src/srcSet/webpSrcSet`);
  assert.equal(status, 200, `${what}: ${url}`);
  const size = imageSize(body);
  assert.equal(type, size.type, `${what}: ${url} is the ${size.type} its Content-Type says`);
  assert.equal(size.width, claimed, `${what}: ${url} is ${claimed} px wide as its srcset says`);
  assert.ok(Math.abs(size.height - size.width / image.aspectRatio) <= 1,
    `${what}: ${url} is ${size.width}×${size.height}, aspect ratio ${image.aspectRatio}`);
  return size;
}

test('the answers: sizes, srcset candidates no wider than the original, a 24 px placeholder', T, () => {
  const { cropped, plain } = srv.images;
  assert.deepEqual([cropped.width, cropped.height, cropped.aspectRatio], [600, 400, 1.5]);
  assert.deepEqual([plain.width, plain.height, plain.aspectRatio], [1600, 1000, 1.6]);
  assert.deepEqual(entries(cropped.srcSet).map(([, w]) => w), [150, 300, 450, 600, 900, 1200]);
  assert.deepEqual(entries(cropped.webpSrcSet).map(([, w]) => w), [150, 300, 450, 600, 900, 1200]);
  assert.deepEqual(entries(plain.srcSet).map(([, w]) => w), [400, 800, 1200, 1600]);
  assert.deepEqual(entries(plain.webpSrcSet).map(([, w]) => w), [400, 800, 1200, 1600]);
  for (const image of [cropped, plain]) {
    assert.equal(image.alt, 'A test card');
    assert.equal(image.title, 'Card');
    assert.equal(image.sizes, `(max-width: ${image.width}px) 100vw, ${image.width}px`);
    assert.match(image.bgColor, /^#[0-9a-f]{6}$/);
    assert.ok(entries(image.webpSrcSet).every(([url]) => /[?&]fm=webp(&|$)/.test(url)), image.webpSrcSet);
    const prefix = 'data:image/jpeg;base64,';
    assert.ok(image.base64?.startsWith(prefix), 'base64 is a JPEG data URI');
    const thumb = jpegSize(Buffer.from(image.base64.slice(prefix.length), 'base64'));
    assert.equal(thumb.width, 24, 'the placeholder is 24 px on its long side');
    assert.ok(Math.abs(thumb.height - 24 / image.aspectRatio) <= 1, `the placeholder's shape (${thumb.height} high)`);
  }
});

/**
 * One page: `component` renders `image` at viewport `width`; assetd's answers are held until the
 * page is measured, then let through. Returns what was measured and what the browser got.
 */
async function renderHeld(component, name, image, width) {
  const key = `${component}-${name}-${width}`;
  cases[key] = { component, data: image };
  const page = await context.newPage();
  await page.setViewportSize({ width, height: 900 });
  const problems = [];
  page.on('console', (message) => { if (message.type() === 'error') problems.push(`console: ${message.text()}`); });
  page.on('pageerror', (error) => problems.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText}`));
  const answers = [];
  page.on('response', (response) => {
    if (!response.url().startsWith(srv.baseUrl)) return;
    answers.push(response.body().then((body) => ({
      url: response.url(), status: response.status(), type: response.headers()['content-type'], body,
    })));
  });
  const held = [];
  let released = false;
  let accept;
  await page.route(`${srv.baseUrl}/**`, (route) => {
    accept ??= route.request().headers().accept;
    if (released) return route.continue();
    held.push(route);
    return undefined;
  });

  // What the page shows: the box the component reserves, its placeholder, its <picture>.
  const measure = () => page.evaluate((kind) => {
    const rect = (el) => {
      const r = el.getBoundingClientRect();
      return { x: r.x, y: r.y, width: r.width, height: r.height };
    };
    const frame = document.getElementById('frame');
    const picture = frame.querySelector('picture');
    const img = picture ? picture.querySelector('img') : frame.querySelector('img');
    const webp = picture?.querySelector('source[type="image/webp"]');
    const regular = picture?.querySelector('source:not([type])');
    const out = {
      below: rect(document.getElementById('below')),
      shifts: [...window.layoutShifts],
      sameComponent: window.sameComponent,
      webp: webp && { srcset: webp.getAttribute('srcset'), sizes: webp.getAttribute('sizes') },
      regular: regular && { srcset: regular.getAttribute('srcset'), sizes: regular.getAttribute('sizes') },
      img: img && {
        src: img.getAttribute('src'), sizes: img.getAttribute('sizes'), alt: img.getAttribute('alt'),
        title: img.getAttribute('title'), currentSrc: img.currentSrc, complete: img.complete,
        naturalWidth: img.naturalWidth, opacity: getComputedStyle(img).opacity, box: rect(img),
        backgroundImage: getComputedStyle(img).backgroundImage,
      },
    };
    if (kind === 'Image') {
      const root = frame.firstElementChild;
      out.box = rect(root);
      const placeholder = root.querySelector(':scope > img[aria-hidden="true"]:not([src^="data:image/svg+xml"])');
      out.placeholder = placeholder && {
        src: placeholder.getAttribute('src'), opacity: getComputedStyle(placeholder).opacity,
        complete: placeholder.complete, naturalWidth: placeholder.naturalWidth, box: rect(placeholder),
      };
    } else {
      out.box = img && rect(img);
    }
    return out;
  }, component);

  try {
    await page.goto(`${SITE}/?case=${encodeURIComponent(key)}`);
    for (let i = 0; held.length === 0; i++) {
      assert.ok(i < 100, `${key}: the image was asked for within 10 s\n${problems.join('\n')}`);
      await sleep(100);
    }
    await sleep(200); // anything else the page would ask for meanwhile
    const before = await measure();
    // What is painted in the box, against the base64 image drawn over the same area (<Image>'s
    // placeholder is 110% of the box, centred): the mean RGB of each cell of a 4×4 grid.
    if (component !== 'bare') {
      const shot = await page.screenshot({ clip: before.box });
      before.painted = await page.evaluate(async ({ shown, base64, margin }) => {
        const bitmap = async (src) => createImageBitmap(await (await fetch(src)).blob());
        const [screen, thumb] = [await bitmap(shown), await bitmap(base64)];
        const { width, height } = screen;
        const grid = (draw) => {
          const canvas = document.createElement('canvas');
          canvas.width = width;
          canvas.height = height;
          const g = canvas.getContext('2d');
          draw(g);
          const { data } = g.getImageData(0, 0, width, height);
          const sums = new Array(48).fill(0);
          for (let y = 0; y < height; y++) {
            for (let x = 0; x < width; x++) {
              const cell = (Math.floor((y * 4) / height) * 4 + Math.floor((x * 4) / width)) * 3;
              for (let c = 0; c < 3; c++) sums[cell + c] += data[(y * width + x) * 4 + c];
            }
          }
          return sums.map((sum) => Math.round(sum / ((width * height) / 16)));
        };
        const [sx, sy] = [thumb.width * margin, thumb.height * margin];
        return {
          shown: grid((g) => g.drawImage(screen, 0, 0)),
          placeholder: grid((g) => g.drawImage(thumb, sx, sy, thumb.width - 2 * sx, thumb.height - 2 * sy,
            0, 0, width, height)),
        };
      }, { shown: `data:image/png;base64,${shot.toString('base64')}`, base64: image.base64,
        margin: component === 'Image' ? 0.05 / 1.1 : 0 });
    }
    released = true;
    for (const route of held.splice(0)) await route.continue();
    await page.waitForFunction((kind) => {
      const img = document.querySelector('#frame picture img') ?? document.querySelector('#frame img');
      if (!img?.complete || !img.naturalWidth) return false;
      if (kind !== 'Image') return true;
      const placeholder = document.querySelector(
        '#frame > div > img[aria-hidden="true"]:not([src^="data:image/svg+xml"])');
      return getComputedStyle(img).opacity === '1' && getComputedStyle(placeholder).opacity === '0';
    }, component, { timeout: 15000 });
    await sleep(100); // a layout shift is reported after the frame that made it
    const loaded = await measure();
    if (process.env.E2E_VERBOSE) {
      const got = (await Promise.all(answers)).map((a) => `${a.status} ${a.type} ${a.body.length} B ${a.url}`);
      process.stderr.write(`${key}\n  held: ${JSON.stringify({ box: before.box, below: before.below, img: before.img,
        placeholder: before.placeholder && { ...before.placeholder, src: before.placeholder.src.slice(0, 40) } })}\n`
        + `  loaded: ${JSON.stringify({ box: loaded.box, below: loaded.below, shifts: loaded.shifts,
          img: loaded.img })}\n`
        + `  ${got.join('\n  ')}\n`);
    }
    return { key, before, loaded, answers: await Promise.all(answers), accept, problems };
  } finally {
    await page.close();
  }
}

const near = (a, b, what) => assert.ok(Math.abs(a - b) <= 0.01 * b, `${what}: ${a} is within 1% of ${b}`);

for (const component of ['Image', 'SRCImage']) {
  test(`<${component}> in Chromium: the answer's srcsets, the base64 placeholder, no layout jump`, T, async () => {
    for (const name of ['cropped', 'plain']) {
      const image = srv.images[name];
      for (const width of WIDTHS) {
        const { key, before, loaded, answers, problems } = await renderHeld(component, name, image, width);
        assert.deepEqual(problems, [], key);
        assert.equal(before.sameComponent, true, 'SRCImage is RSCImage');

        // The attributes are the answer's.
        const attrs = { webp: before.webp, regular: before.regular, img: before.img && {
          src: before.img.src, sizes: before.img.sizes, alt: before.img.alt, title: before.img.title } };
        assert.deepEqual(attrs, {
          webp: { srcset: image.webpSrcSet, sizes: image.sizes },
          regular: { srcset: image.srcSet, sizes: image.sizes },
          img: { src: image.src, sizes: image.sizes, alt: image.alt, title: image.title },
        }, `${key}: <source>s and <img> carry the answer`);

        // Held: the placeholder is the answer's base64, and the box already has the aspect ratio.
        assert.equal(before.img.complete && before.img.naturalWidth > 0, false, `${key}: the image is still held`);
        if (component === 'Image') {
          assert.ok(before.placeholder, `${key}: <Image> shows a placeholder <img>`);
          assert.equal(before.placeholder.src, image.base64, `${key}: the placeholder is base64`);
          assert.equal(before.placeholder.opacity, '1', `${key}: the placeholder is visible`);
          assert.ok(before.placeholder.complete && before.placeholder.naturalWidth === 24, `${key}: base64 decoded`);
          assert.equal(before.img.opacity, '0', `${key}: the real image is hidden until it loads`);
          // The placeholder overflows the box by 5% on each side (react-datocms's blur-edge trick).
          near(before.placeholder.box.width, before.box.width * 1.1, `${key}: placeholder width`);
        } else {
          assert.equal(before.img.backgroundImage, `url("${image.base64}")`, `${key}: base64 is the background`);
        }
        const { shown, placeholder } = before.painted;
        const worst = Math.max(...shown.map((value, i) => Math.abs(value - placeholder[i])));
        if (process.env.E2E_VERBOSE) process.stderr.write(`${key}: placeholder pixels differ by ${worst} at most\n`);
        assert.ok(worst <= 8, `${key}: the box shows the base64 image (4×4 RGB ${shown} vs ${placeholder})`);
        const expectedWidth = Math.min(width, image.width);
        near(before.box.width, expectedWidth, `${key}: reserved width`);
        near(before.box.width / before.box.height, image.aspectRatio, `${key}: reserved box's aspect ratio`);

        // Loaded: the same box, the text below where it was, no layout shift at all.
        assert.deepEqual(loaded.box, before.box, `${key}: the box did not change when the image arrived`);
        assert.deepEqual(loaded.below, before.below, `${key}: the text below did not move`);
        assert.deepEqual(loaded.shifts, [], `${key}: Chromium recorded no layout shift`);
        if (component === 'Image') {
          assert.equal(loaded.placeholder.opacity, '0', `${key}: the placeholder faded out`);
          assert.deepEqual(loaded.img.box, loaded.box, `${key}: the image fills the reserved box`);
        }

        // The browser chose a WebP candidate; each answer it got is 200 and as wide as claimed.
        const candidates = new Map(entries(image.webpSrcSet));
        const chosen = candidates.get(loaded.img.currentSrc);
        assert.ok(chosen, `${key}: ${loaded.img.currentSrc} is from webpSrcSet`);
        const needed = Math.min(image.width, width) * DPR;
        assert.ok(chosen >= needed || chosen === Math.max(...candidates.values()),
          `${key}: the ${chosen}w candidate covers ${needed} device px`);
        assert.ok(answers.some((a) => a.url === loaded.img.currentSrc), `${key}: the browser fetched currentSrc`);
        for (const answer of answers) {
          const size = checkImage(image, answer.url, answer, `${key} (Chromium)`);
          if (answer.url === loaded.img.currentSrc) assert.equal(size.type, 'image/webp', key);
        }
      }
    }
  });
}

test('the counter-example: a bare <img> jumps when its image arrives, and Chromium records the shift', T, async () => {
  // Without it, "no layout shift" above could only mean that the observer never reports one.
  const { key, before, loaded, problems } = await renderHeld('bare', 'plain', srv.images.plain, 1000);
  assert.deepEqual(problems, [], key);
  assert.ok(before.box.height < 50, `${key}: nothing reserved (${before.box.height} px high)`);
  near(loaded.box.height, 625, `${key}: the image took its height when it arrived`);
  assert.ok(loaded.below.y > before.below.y + 500, `${key}: the text below moved`);
  assert.ok(loaded.shifts.length > 0 && loaded.shifts.every((value) => value > 0), `${key}: a layout shift recorded`);
});

test('every URL of src, srcSet and webpSrcSet renders the width it claims, as browsers ask for it', T, async () => {
  // Chromium's own image Accept header, as recorded from a page (auto=format chooses from it).
  const { accept } = await renderHeld('SRCImage', 'accept', srv.images.plain, 1000);
  assert.match(accept, /image\/avif/);
  for (const [name, image] of Object.entries(srv.images)) {
    for (const url of claimedWidths(image).keys()) {
      for (const asked of [accept, 'image/jpeg']) {
        const { status, headers, buf } = await getBytes(url, { headers: { accept: asked } });
        const size = checkImage(image, url, { status, type: headers.get('content-type'), body: buf },
          `${name}, Accept: ${asked}`);
        const webp = /[?&]fm=webp(&|$)/.test(url);
        const auto = /[?&]auto=format(&|$)/.test(url);
        const expected = webp ? 'image/webp' : auto && asked === accept ? 'image/avif' : 'image/jpeg';
        assert.equal(size.type, expected, `${url} with Accept: ${asked}`);
      }
    }
  }
});
