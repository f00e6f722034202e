// imgix-style transforms at an upload's public `url` (spec §7.2–§7.4), fetched exactly the way
// front-ends build the URLs: the CDA's `responsiveImage.srcSet`, react-datocms `<Image>`'s fallback
// srcset, browser `Accept` headers with `auto=format`, the stored focal point, the derived-image
// cache across new versions and keep_url replacements, and parameter errors.
//
// Test images are generated here (a tiny PNG encoder on node:zlib) and results are checked by
// reading the image headers (PNG, JPEG, WebP, AVIF, GIF) and by decoding PNG pixels (a tiny
// decoder on node:zlib), so no image library is needed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import zlib from 'node:zlib';

import {
  useServer,
  fixture,
  fileBytes,
  getBytes,
  writeFileIn,
  putViaUploadRequest,
  assertEnvelope,
} from '../harness.mjs';

const T = { timeout: 180000 };

const RED = [255, 0, 0];
const GREEN = [0, 255, 0];
const BLUE = [0, 0, 255];
const WHITE = [255, 255, 255];
const YELLOW = [255, 255, 0];
const MAGENTA = [255, 0, 255];

// Accept headers browsers send for <img> requests.
const ACCEPT_CHROME = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
const ACCEPT_SAFARI_14 = 'image/webp,image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';
const ACCEPT_OLD_SAFARI = 'image/png,image/svg+xml,image/*;q=0.8,video/*;q=0.8,*/*;q=0.5';

// The multipliers react-datocms and the CDA use for srcsets (spec §7.4).
const MULTIPLIERS = [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4];

// ---------------------------------------------------------------------------
// PNG encoder / decoder (8-bit, non-interlaced)

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** An 8-bit RGB PNG of width × height whose pixel (x, y) is colourAt(x, y) = [r, g, b]. */
function encodePng(width, height, colourAt) {
  const stride = 1 + width * 3;
  const raw = Buffer.alloc(stride * height); // filter byte 0 (None) on every row
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(colourAt(x, y), y * stride + 1 + x * 3);
  }
  const chunk = (type, data) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    data.copy(out, 8);
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13); // compression, filter method, interlace: 0
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    PNG_SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** 100-px bands of `colours`, side by side (or stacked when `vertical`), 100 px across. */
function bandsPng(colours, { vertical = false } = {}) {
  const long = colours.length * 100;
  const [w, h] = vertical ? [100, long] : [long, 100];
  return encodePng(w, h, (x, y) => colours[Math.floor((vertical ? y : x) / 100)]);
}

/**
 * Decodes an 8-bit non-interlaced PNG (greyscale, RGB, palette, grey+alpha, RGBA).
 * Returns { width, height, channels, pixel(x, y) → [r, g, b] }.
 */
function decodePng(buf) {
  assert.ok(buf.subarray(0, 8).equals(PNG_SIGNATURE), 'not a PNG');
  let ihdr = null;
  let palette = null;
  const idat = [];
  for (let pos = 8; pos + 8 <= buf.length; ) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') ihdr = data;
    else if (type === 'PLTE') palette = data;
    else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    pos += 12 + len;
  }
  assert.ok(ihdr, 'PNG without IHDR');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const [depth, colourType, interlace] = [ihdr[8], ihdr[9], ihdr[12]];
  const channels = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 }[colourType];
  if (depth !== 8 || !channels || interlace !== 0 || (colourType === 3 && !palette)) {
    throw new Error(`unsupported PNG: depth ${depth}, colour type ${colourType}, interlace ${interlace}`);
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  assert.ok(raw.length >= (stride + 1) * height, `PNG data too short: ${raw.length} B for ${width}x${height}`);
  const px = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? px[dst + i - channels] : 0;
      const b = y > 0 ? px[dst - stride + i] : 0;
      const c = y > 0 && i >= channels ? px[dst - stride + i - channels] : 0;
      let v = raw[src + i];
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const [pa, pb, pc] = [Math.abs(p - a), Math.abs(p - b), Math.abs(p - c)];
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else if (filter !== 0) throw new Error(`bad PNG filter type ${filter} on row ${y}`);
      px[dst + i] = v & 0xff;
    }
  }
  return {
    width,
    height,
    channels,
    pixel(x, y) {
      const o = y * stride + x * channels;
      if (colourType === 3) return [...palette.subarray(px[o] * 3, px[o] * 3 + 3)];
      if (channels <= 2) return [px[o], px[o], px[o]];
      return [px[o], px[o + 1], px[o + 2]];
    },
  };
}

// ---------------------------------------------------------------------------
// image headers → format and size

/** { format, width, height } read from the headers of a PNG, JPEG, WebP, AVIF or GIF. */
function imageInfo(buf) {
  const ascii = (from, to) => buf.toString('latin1', from, to);
  if (buf.length >= 24 && buf.subarray(0, 8).equals(PNG_SIGNATURE)) {
    return { format: 'png', width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
  }
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let p = 2; p + 9 <= buf.length; ) {
      if (buf[p] !== 0xff) throw new Error(`JPEG: no marker at offset ${p}`);
      const m = buf[p + 1];
      if (m === 0xff) {
        p += 1; // fill byte
      } else if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
        p += 2; // markers without a length
      } else if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
        // SOFn: length(2) precision(1) height(2) width(2)
        return { format: 'jpeg', height: buf.readUInt16BE(p + 5), width: buf.readUInt16BE(p + 7), sof: m };
      } else if (m === 0xda || m === 0xd9) {
        break;
      } else {
        p += 2 + buf.readUInt16BE(p + 2);
      }
    }
    throw new Error('JPEG without a SOF marker');
  }
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') {
    const chunk = ascii(12, 16);
    if (chunk === 'VP8 ') {
      assert.equal(buf.readUIntBE(23, 3), 0x9d012a, 'VP8 start code');
      return { format: 'webp', width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
    }
    if (chunk === 'VP8L') {
      assert.equal(buf[20], 0x2f, 'VP8L signature');
      const bits = buf.readUInt32LE(21);
      return { format: 'webp', width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
    }
    if (chunk === 'VP8X') {
      return { format: 'webp', width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
    }
    throw new Error(`WebP with an unknown first chunk ${JSON.stringify(chunk)}`);
  }
  if (ascii(4, 8) === 'ftyp') {
    const brands = [];
    const ftypEnd = Math.min(buf.readUInt32BE(0), buf.length);
    for (let p = 16; p + 4 <= ftypEnd; p += 4) brands.push(ascii(p, p + 4));
    const major = ascii(8, 12);
    if (major !== 'avif' && major !== 'avis' && !brands.includes('avif')) {
      throw new Error(`ISOBMFF file of brand ${major} (${brands.join(',')}) is not AVIF`);
    }
    const i = buf.indexOf('ispe', 0, 'latin1'); // box: size(4) 'ispe' version+flags(4) width(4) height(4)
    if (i < 0) throw new Error('AVIF without an ispe box');
    return { format: 'avif', width: buf.readUInt32BE(i + 8), height: buf.readUInt32BE(i + 12) };
  }
  if (ascii(0, 4) === 'GIF8') {
    return { format: 'gif', width: buf.readUInt16LE(6), height: buf.readUInt16LE(8) };
  }
  throw new Error(`unknown image format (first bytes ${buf.subarray(0, 16).toString('hex')})`);
}

const FORMAT_OF_MIME = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/webp': 'webp', 'image/avif': 'avif', 'image/gif': 'gif' };

// ---------------------------------------------------------------------------
// fetching

/** GET `url` like a browser <img> would; returns { status, headers, buf, type, cache }. */
async function get(url, headers = {}) {
  const r = await getBytes(url, { headers });
  return { ...r, type: (r.headers.get('content-type') ?? '').split(';')[0].trim(), cache: r.headers.get('x-cache') };
}

function bodyText(r) {
  return r.buf.toString('utf8', 0, Math.min(r.buf.length, 600));
}

/** Asserts a 200 image answer whose bytes are the format Content-Type names; returns imageInfo. */
function expectImage(r, url) {
  assert.equal(r.status, 200, `GET ${url} answered ${r.status}: ${bodyText(r)}`);
  assert.match(r.type, /^image\//, `GET ${url}: Content-Type ${r.type}`);
  const info = imageInfo(r.buf);
  assert.equal(info.format, FORMAT_OF_MIME[r.type], `GET ${url}: Content-Type ${r.type} but the bytes are ${info.format}`);
  return info;
}

async function getImage(url, headers = {}) {
  const r = await get(url, headers);
  return { ...r, info: expectImage(r, url) };
}

/** Asserts the PNG pixel at (x, y) is `want` within ±12 per channel. */
function assertPixel(png, x, y, want, what) {
  const got = png.pixel(x, y);
  assert.ok(
    got.every((v, i) => Math.abs(v - want[i]) <= 12),
    `${what}: pixel (${x},${y}) of the ${png.width}x${png.height} result is [${got}], expected [${want}]`,
  );
}

/** Asserts each horizontal quarter of a PNG has the given colour (checked at 3 points per quarter). */
function assertQuarters(png, colours, what) {
  const q = png.width / 4;
  colours.forEach((colour, i) => {
    for (const f of [0.25, 0.5, 0.75]) {
      assertPixel(png, Math.floor(q * (i + f)), Math.floor(png.height / 2), colour, `${what} (quarter ${i})`);
    }
  });
}

// ---------------------------------------------------------------------------
// server and fixtures

const files = {};
const srv = useServer({}, async (ctx) => {
  const dir = path.join(ctx.tmpDir, 'files');
  // 1000×750 (4:3) gradient: red grows left → right, green top → bottom.
  files.gradient = writeFileIn(
    dir,
    'gradient.png',
    encodePng(1000, 750, (x, y) => [Math.round((x * 255) / 999), Math.round((y * 255) / 749), 128]),
  );
  files.bands = writeFileIn(dir, 'bands.png', bandsPng([RED, GREEN, BLUE, WHITE])); // 400×100
  files.reversed = writeFileIn(dir, 'reversed.png', bandsPng([WHITE, BLUE, GREEN, RED])); // 400×100
  files.stacked = writeFileIn(dir, 'stacked.png', bandsPng([YELLOW, MAGENTA], { vertical: true })); // 100×200
  files.catJpg = await fixture('cat.jpg'); // 80×60
  files.pdf = await fixture('doc.pdf');
});

// ---------------------------------------------------------------------------
// 1. the CDA's responsiveImage.srcSet

/** The CDA's srcSet for `url` + `params` (sorted alphabetically, `dpr` inserted, descriptor floor(w × dpr)). */
function cdaSrcSet(url, params, width) {
  return MULTIPLIERS.map((m) => {
    const query = Object.entries({ ...params, dpr: String(m) })
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
      .join('&');
    return `${url}?${query} ${Math.floor(width * m)}w`;
  }).join(', ');
}

/** Parses a srcset attribute into [{ url, descriptor }]. */
function parseSrcSet(srcSet) {
  return srcSet.split(/,\s+/).map((candidate) => {
    const [url, descriptor] = candidate.trim().split(/\s+/);
    return { url, width: Number(descriptor.replace(/w$/, '')) };
  });
}

test('CDA srcSet ?ar=16:9&dpr=…&fit=crop&w=750: each candidate is round(750 × dpr) wide, 16:9, upscaled beyond the source, centre crop', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.gradient });
  assert.equal(up.width, 1000);
  assert.equal(up.height, 750);
  const srcSet = cdaSrcSet(up.url, { ar: '16:9', fit: 'crop', w: '750' }, 750);
  assert.ok(srcSet.includes('?ar=16%3A9&dpr=0.25&fit=crop&w=750 187w'), `srcSet as the CDA writes it: ${srcSet}`);
  const candidates = parseSrcSet(srcSet);
  assert.equal(candidates.length, MULTIPLIERS.length);
  for (const [i, { url, width: descriptor }] of candidates.entries()) {
    const m = MULTIPLIERS[i];
    const r = await getImage(url);
    const { width, height } = r.info;
    assert.equal(r.type, 'image/png', `${url}: a PNG source without fm stays PNG`);
    assert.equal(width, Math.round(750 * m), `${url}: width (source is 1000 px wide; fit=crop upscales)`);
    assert.ok(width >= descriptor && width - descriptor <= 1, `${url}: width ${width} vs srcset descriptor ${descriptor}w`);
    assert.ok(Math.abs(height - (width * 9) / 16) <= 1, `${url}: ${width}x${height} is not 16:9 within 1 px`);
    // The 4:3 source is cut to 16:9 around its centre: full width kept, rows ~94..656 of 750.
    const png = decodePng(r.buf);
    assert.equal(png.width, width);
    const [cx, cy] = [Math.floor(width / 2), Math.floor(height / 2)];
    const green = (y) => png.pixel(cx, y)[1];
    const red = (x) => png.pixel(x, cy)[0];
    assert.ok(Math.abs(green(0) - 32) <= 8, `${url}: top row green ${green(0)}, expected ≈32 (centre crop starts at source row ≈94)`);
    assert.ok(Math.abs(green(height - 1) - 223) <= 8, `${url}: bottom row green ${green(height - 1)}, expected ≈223`);
    assert.ok(Math.abs(green(cy) - 128) <= 6, `${url}: middle row green ${green(cy)}, expected ≈128`);
    assert.ok(red(0) <= 8 && red(width - 1) >= 247, `${url}: full width kept (red ${red(0)} → ${red(width - 1)})`);
  }
});

test('srcSet candidates with fit=max and fit=min never exceed the source width', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.gradient });
  // fit=max: never upscales, keeps the source's 4:3.
  for (const { url } of parseSrcSet(cdaSrcSet(up.url, { fit: 'max', w: '750' }, 750))) {
    const m = Number(new URL(url).searchParams.get('dpr'));
    const { width, height } = (await getImage(url)).info;
    assert.equal(width, Math.min(Math.round(750 * m), 1000), `${url}: width`);
    assert.ok(Math.abs(height - width * 0.75) <= 1, `${url}: ${width}x${height} keeps 4:3`);
  }
  // fit=min: crops to 16:9 but never upscales (capped at 1000×563).
  for (const { url } of parseSrcSet(cdaSrcSet(up.url, { ar: '16:9', fit: 'min', w: '750' }, 750))) {
    const m = Number(new URL(url).searchParams.get('dpr'));
    const { width, height } = (await getImage(url)).info;
    assert.equal(width, Math.min(Math.round(750 * m), 1000), `${url}: width`);
    assert.ok(Math.abs(height - (width * 9) / 16) <= 1, `${url}: ${width}x${height} is not 16:9 within 1 px`);
  }
});

// ---------------------------------------------------------------------------
// 2. react-datocms <Image> fallback srcset

/** react-datocms `buildSrcSet(src, width, multipliers)` (Image/index.tsx), as shipped. */
function reactDatocmsSrcSet(src, width, candidateMultipliers) {
  return candidateMultipliers
    .map((multiplier) => {
      const url = new URL(src);
      if (multiplier !== 1) {
        url.searchParams.set('dpr', `${multiplier}`);
        const maxH = url.searchParams.get('max-h');
        const maxW = url.searchParams.get('max-w');
        if (maxH) url.searchParams.set('max-h', `${Math.floor(Number.parseInt(maxH) * multiplier)}`);
        if (maxW) url.searchParams.set('max-w', `${Math.floor(Number.parseInt(maxW) * multiplier)}`);
      }
      const finalWidth = Math.floor(width * multiplier);
      if (finalWidth < 50) return null;
      return `${url.toString()} ${finalWidth}w`;
    })
    .filter(Boolean)
    .join(',');
}

test('react-datocms <Image> fallback srcset (?max-w=800&auto=format, dpr + scaled max-w): widths bounded by max-w × m and the source', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.gradient }); // 1000×750
  const srcSet = reactDatocmsSrcSet(`${up.url}?max-w=800&auto=format`, 800, MULTIPLIERS);
  const candidates = srcSet.split(',').map((c) => c.trim().split(/\s+/)[0]);
  assert.equal(candidates.length, MULTIPLIERS.length);
  for (const url of candidates) {
    const q = new URL(url).searchParams;
    const maxW = Number(q.get('max-w'));
    const r = await getImage(url, { Accept: ACCEPT_SAFARI_14 });
    const { width, height } = r.info;
    assert.equal(r.type, 'image/webp', `${url}: auto=format with a WebP-capable Accept`);
    assert.equal(r.headers.get('vary'), 'Accept', `${url}: Vary`);
    assert.ok(width <= maxW, `${url}: width ${width} > max-w ${maxW} (dpr must not be folded into max-w again)`);
    assert.ok(width <= 1000, `${url}: width ${width} > the source's 1000 (no w: dpr does not upscale)`);
    // Without w/h the image keeps its natural size, bounded by max-w.
    assert.equal(width, Math.min(maxW, 1000), `${url}: width`);
    assert.ok(Math.abs(height - width * 0.75) <= 1, `${url}: ${width}x${height} keeps 4:3`);
  }
});

// ---------------------------------------------------------------------------
// 3. auto=format with browser Accept headers

test('fit=crop&ar=16:9&w=…&auto=format follows browser Accept headers (AVIF, WebP, source format) with Vary: Accept', T, async () => {
  const jpg = await srv.client.uploads.createFromLocalFile({ localPath: files.catJpg }); // 80×60 JPEG
  const png = await srv.client.uploads.createFromLocalFile({ localPath: files.gradient }); // 1000×750 PNG
  for (const [up, w, sourceType] of [
    [jpg, 64, 'image/jpeg'],
    [png, 320, 'image/png'],
  ]) {
    const url = `${up.url}?fit=crop&ar=16%3A9&w=${w}&auto=format`;
    for (const [browser, accept, type] of [
      ['Chrome', ACCEPT_CHROME, 'image/avif'],
      ['Safari 14', ACCEPT_SAFARI_14, 'image/webp'],
      ['old Safari', ACCEPT_OLD_SAFARI, sourceType],
      ['Chrome again', ACCEPT_CHROME, 'image/avif'],
    ]) {
      const r = await getImage(url, { Accept: accept });
      assert.equal(r.type, type, `${url} from ${browser} (Accept: ${accept})`);
      assert.equal(r.headers.get('vary'), 'Accept', `${url} from ${browser}: Vary`);
      assert.deepEqual([r.info.width, r.info.height], [w, Math.round((w * 9) / 16)], `${url} from ${browser}: size`);
      if (browser === 'Chrome again') assert.equal(r.cache, 'HIT', `${url}: the AVIF variant is cached`);
    }
    // An explicit fm wins over auto=format and the answer no longer depends on Accept.
    const explicit = await getImage(`${url}&fm=png`, { Accept: ACCEPT_CHROME });
    assert.equal(explicit.type, 'image/png', `${url}&fm=png`);
    assert.equal(explicit.headers.get('vary'), null, `${url}&fm=png: no Vary: Accept`);
  }
});

// ---------------------------------------------------------------------------
// 4. stored focal point

test('crop=focalpoint without fp-x/fp-y uses the stored focal point (set with uploads.update) and follows its changes', T, async () => {
  const c = srv.client;
  const up = await c.uploads.createFromLocalFile({ localPath: files.bands }); // red | green | blue | white
  const url = `${up.url}?fit=crop&crop=focalpoint&w=100&h=100&fm=png`;
  const crop = async (u = url) => {
    const r = await getImage(u);
    assert.equal(r.type, 'image/png', u);
    const img = decodePng(r.buf);
    assert.deepEqual([img.width, img.height], [100, 100], `${u}: size`);
    return img;
  };
  const metadata = (focal_point) => ({
    default_field_metadata: { en: { alt: null, title: null, custom_data: {}, focal_point } },
  });

  // No stored point: the centre (source columns 150..250, green then blue).
  let img = await crop();
  assertPixel(img, 10, 50, GREEN, 'no focal point: centre');
  assertPixel(img, 90, 50, BLUE, 'no focal point: centre');

  let r = await c.uploads.update(up.id, metadata({ x: 0.1, y: 0.5 }));
  assert.deepEqual(r.default_field_metadata.en.focal_point, { x: 0.1, y: 0.5 });
  img = await crop();
  for (const x of [2, 25, 50, 75, 97]) assertPixel(img, x, 50, RED, 'focal point x=0.1 keeps the left band');

  // An explicit fp-x/fp-y wins over the stored point.
  img = await crop(`${url}&fp-x=0.875&fp-y=0.5`);
  for (const x of [2, 50, 97]) assertPixel(img, x, 50, WHITE, 'explicit fp-x=0.875');

  r = await c.uploads.update(up.id, metadata({ x: 0.625, y: 0.5 }));
  assert.deepEqual(r.default_field_metadata.en.focal_point, { x: 0.625, y: 0.5 });
  img = await crop();
  for (const x of [2, 50, 97]) assertPixel(img, x, 50, BLUE, 'focal point moved to x=0.625');

  r = await c.uploads.update(up.id, metadata(null));
  assert.equal(r.default_field_metadata.en.focal_point, null);
  img = await crop();
  assertPixel(img, 10, 50, GREEN, 'focal point cleared: centre again');
  assertPixel(img, 90, 50, BLUE, 'focal point cleared: centre again');
});

// ---------------------------------------------------------------------------
// 5. derived-image cache

test('the same transform URL twice: MISS then HIT with identical bytes; equivalent URLs hit; If-None-Match → 304', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.bands });
  const url = `${up.url}?w=100&fm=png`;
  const first = await getImage(url);
  assert.equal(first.cache, 'MISS', `${url}: first render`);
  assert.deepEqual([first.info.width, first.info.height], [100, 25]);
  assertQuarters(decodePng(first.buf), [RED, GREEN, BLUE, WHITE], url);
  const etag = first.headers.get('etag');
  assert.match(etag ?? '', /^"[^"]+"$/, 'strong ETag');
  assert.match(first.headers.get('cache-control') ?? '', /immutable/, 'a never-replaced url is immutable');

  const second = await getImage(url);
  assert.equal(second.cache, 'HIT', `${url}: second request`);
  assert.ok(second.buf.equals(first.buf), 'HIT serves the same bytes');
  assert.equal(second.headers.get('etag'), etag);
  assert.equal(second.type, 'image/png');
  assert.equal(second.headers.get('cache-control'), first.headers.get('cache-control'));

  for (const same of [`${up.url}?fm=png&w=100`, `${up.url}?w=50&dpr=2&fm=png`]) {
    const r = await getImage(same);
    assert.equal(r.cache, 'HIT', `${same}: equivalent to ${url}`);
    assert.ok(r.buf.equals(first.buf), `${same}: same bytes`);
  }

  const revalidated = await get(url, { 'If-None-Match': etag });
  assert.equal(revalidated.status, 304, `If-None-Match ${etag}`);
  assert.equal(revalidated.buf.length, 0);
});

test('a new version (updateFromLocalFile) renders the new file at the new url; the old transformed url is gone', T, async () => {
  const c = srv.client;
  const up = await c.uploads.createFromLocalFile({ localPath: files.bands }); // 400×100
  const query = 'w=100&fm=png';
  const before = await getImage(`${up.url}?${query}`);
  assert.deepEqual([before.info.width, before.info.height], [100, 25]);
  assert.equal((await get(`${up.url}?${query}`)).cache, 'HIT');

  const r = await c.uploads.updateFromLocalFile(up.id, { localPath: files.stacked }); // 100×200 yellow / magenta
  assert.equal(r.id, up.id);
  assert.deepEqual([r.width, r.height], [100, 200]);
  assert.notEqual(r.url, up.url, 'create_new_url: the url changes');

  const after = await getImage(`${r.url}?${query}`);
  assert.equal(after.cache, 'MISS', 'the new file is rendered, not served from the old cache');
  assert.ok(!after.buf.equals(before.buf), 'different bytes');
  assert.deepEqual([after.info.width, after.info.height], [100, 200], 'the new file’s size');
  const img = decodePng(after.buf);
  assertPixel(img, 50, 50, YELLOW, 'new version, top');
  assertPixel(img, 50, 150, MAGENTA, 'new version, bottom');

  const old = await get(`${up.url}?${query}`);
  assert.equal(old.status, 404, `the old transformed url must not serve the old rendering (got ${old.status}, x-cache ${old.cache})`);
});

test('keep_url replacement: the same transform URL renders the new file (MISS, new ETag, no longer immutable)', T, async () => {
  const c = srv.client;
  const up = await c.uploads.createFromLocalFile({ localPath: files.bands }); // red green blue white
  const url = `${up.url}?w=100&fm=png`;
  const first = await getImage(url);
  assert.equal(first.cache, 'MISS');
  assert.equal((await get(url)).cache, 'HIT');
  const etag = first.headers.get('etag');

  const req = await putViaUploadRequest(c, files.reversed, 'reversed.png', 'image/png');
  const r = await c.uploads.update(up.id, { path: req.id }, { replace_strategy: 'keep_url' });
  assert.equal(r.url, up.url, 'keep_url keeps the url');

  const replaced = await getImage(url);
  assert.equal(replaced.cache, 'MISS', `${url}: first render of the new file`);
  assert.ok(!replaced.buf.equals(first.buf), 'different bytes');
  assert.deepEqual([replaced.info.width, replaced.info.height], [100, 25]);
  assertQuarters(decodePng(replaced.buf), [WHITE, BLUE, GREEN, RED], `${url} after keep_url`);
  assert.notEqual(replaced.headers.get('etag'), etag, 'the ETag changes with the content');
  const cc = replaced.headers.get('cache-control') ?? '';
  assert.doesNotMatch(cc, /immutable/, `a replaced url must not be immutable (Cache-Control: ${cc})`);

  // A browser revalidating with the old ETag gets the new rendering, not 304.
  const revalidated = await get(url, { 'If-None-Match': etag });
  assert.equal(revalidated.status, 200, `If-None-Match with the pre-replacement ETag answered ${revalidated.status}`);
  assert.ok(revalidated.buf.equals(replaced.buf));
  assert.equal(revalidated.cache, 'HIT');

  const original = await get(up.url);
  assert.ok(original.buf.equals(fileBytes(files.reversed)), 'the url without parameters serves the new file');
});

// ---------------------------------------------------------------------------
// 6. errors and non-images

test('bad parameter values answer 400 INVALID_IMAGE_PARAMS naming the parameter', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.catJpg });
  for (const [query, param] of [
    ['w=abc', 'w'],
    ['ar=16%3A0&fit=crop&w=750', 'ar'],
    ['fit=stretch&w=10', 'fit'],
    ['crop=middle&fit=crop&w=10&h=10', 'crop'],
    ['fm=bmp', 'fm'],
    ['dpr=-2&w=10', 'dpr'],
    ['max-w=0', 'max-w'],
    ['rect=1,2,3', 'rect'],
  ]) {
    const url = `${up.url}?${query}`;
    const r = await get(url);
    assert.equal(r.status, 400, `${url}: ${bodyText(r)}`);
    assert.match(r.type, /^application\/json$/, `${url}: Content-Type`);
    const body = JSON.parse(r.buf.toString('utf8'));
    assertEnvelope(body, 'INVALID_IMAGE_PARAMS', url);
    assert.equal(body.data[0].attributes.code, 'INVALID_IMAGE_PARAMS', url);
    assert.equal(body.data[0].attributes.details.param, param, `${url}: details.param`);
  }
  // Parameters assetd does not render with serve the original.
  const plain = await get(`${up.url}?utm_source=newsletter`);
  assert.equal(plain.status, 200);
  assert.ok(plain.buf.equals(fileBytes(files.catJpg)), 'unknown parameters alone: the original bytes');
});

test('non-images ignore transform parameters: a PDF with ?w=100 returns the original PDF', T, async () => {
  const up = await srv.client.uploads.createFromLocalFile({ localPath: files.pdf });
  for (const query of ['w=100', 'w=100&fm=png&auto=format']) {
    const r = await get(`${up.url}?${query}`, { Accept: ACCEPT_CHROME });
    assert.equal(r.status, 200, `${up.url}?${query}: ${bodyText(r)}`);
    assert.equal(r.type, 'application/pdf', `${up.url}?${query}: Content-Type`);
    assert.ok(r.buf.equals(fileBytes(files.pdf)), `${up.url}?${query}: the original bytes`);
  }
});
