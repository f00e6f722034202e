// GET /uploads through the official client: every filter field of spec §3.3,
// filter[query], locale, multi-key order_by, paging, rejected parameters, listPagedIterator.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { useServer, fixture, fileSize, expectApiError, pngBytes, writeFileIn } from '../harness.mjs';

const T = { timeout: 90000 };
const BATCH = 7;

// label -> upload, id -> label (assertions compare sorted labels, so failures are readable)
const U = {};
const label = {};

const srv = useServer({}, async (ctx) => {
  const c = ctx.client;
  const fx = {};
  for (const name of ['cat.png', 'cat.jpg', 'dog.jpg', 'clip.mp4', 'doc.pdf', 'drawing.svg']) fx[name] = await fixture(name);
  const dir = path.join(ctx.tmpDir, 'files');
  const specs = {
    catPng: {
      localPath: fx['cat.png'],
      tags: ['pet', 'orange'],
      author: 'Alice Photographer',
      notes: 'Shot in the garden',
      default_field_metadata: { en: { alt: 'Orange cat sitting' }, it: { alt: 'Gatto arancione', title: 'Micio' } },
    },
    catJpg: { localPath: fx['cat.jpg'], tags: ['pet'], default_field_metadata: { en: { title: 'Jpeg kitty' } } },
    dogJpg: {
      localPath: fx['dog.jpg'],
      tags: ['pet', 'dog'],
      copyright: 'Bob Corp',
      default_field_metadata: { en: { alt: 'Colour bars dog' } },
    },
    clip: { localPath: fx['clip.mp4'], tags: ['motion'] },
    pdf: { localPath: fx['doc.pdf'] },
    svg: { localPath: fx['drawing.svg'] },
    // generated PNGs: 1500x10 (medium, landscape), 10x200 (small, portrait), 16x16 (icon, square)
    wide: { localPath: writeFileIn(dir, 'wide.png', pngBytes(1500, 10, [200, 10, 10])) },
    tall: { localPath: writeFileIn(dir, 'tall.png', pngBytes(10, 200, [10, 200, 10])) },
    square: { localPath: writeFileIn(dir, 'square.png', pngBytes(16, 16, [10, 10, 200])) },
  };
  for (let i = 1; i <= BATCH; i++) {
    specs[`batch${i}`] = {
      localPath: writeFileIn(dir, `batch-${i}.txt`, `batch file number ${i}\n`),
      tags: ['batch'],
    };
  }
  const entries = Object.entries(specs);
  const made = await Promise.all(entries.map(([, body]) => c.uploads.createFromLocalFile(body)));
  entries.forEach(([name], i) => {
    U[name] = made[i];
    label[made[i].id] = name;
  });
});

const ALL = () => Object.keys(U).sort();
const BATCH_LABELS = Array.from({ length: BATCH }, (_, i) => `batch${i + 1}`);
const IMAGES = ['catJpg', 'catPng', 'dogJpg', 'square', 'svg', 'tall', 'wide'];
const except = (...names) => ALL().filter((n) => !names.includes(n));
const sorted = (a) => [...a].sort();
const names = (list) => list.map((u) => label[u.id] ?? `?${u.id}`);

/** uploads.list(params) (page limit 500) → sorted labels */
async function q(params) {
  const list = await srv.client.uploads.list({ ...params, page: { limit: 500 } });
  return sorted(names(list));
}

async function expectFilter(fields, expected, extra = {}) {
  const got = await q({ ...extra, filter: { ...(extra.filter ?? {}), fields } });
  assert.deepEqual(
    got,
    sorted(expected),
    `GET /uploads filter[fields]=${JSON.stringify(fields)} ${JSON.stringify(extra)}`,
  );
}

async function expectQuery(query, expected, extra = {}) {
  const got = await q({ ...extra, filter: { ...(extra.filter ?? {}), query } });
  assert.deepEqual(got, sorted(expected), `GET /uploads filter[query]=${JSON.stringify(query)} ${JSON.stringify(extra)}`);
}

test('setup sanity: the facts the filters below rely on', T, async () => {
  assert.equal(Object.keys(U).length, 9 + BATCH);
  assert.equal(U.catPng.size, fileSize(await fixture('cat.png')));
  assert.deepEqual([U.catPng.width, U.catPng.height], [64, 48]);
  assert.deepEqual([U.catJpg.width, U.catJpg.height], [80, 60]);
  assert.deepEqual([U.dogJpg.width, U.dogJpg.height], [40, 30]);
  assert.deepEqual([U.wide.width, U.wide.height], [1500, 10]);
  assert.deepEqual([U.tall.width, U.tall.height], [10, 200]);
  assert.deepEqual([U.square.width, U.square.height], [16, 16]);
  assert.deepEqual([U.svg.width, U.svg.height], [64, 48], 'libvips reads the size of an svg');
  assert.equal(U.catJpg.size, 824);
  assert.equal(U.dogJpg.size, 728);
  assert.equal(U.pdf.size, 591);
  assert.equal(U.clip.size, 4080);
  for (const n of ['catPng', 'svg', 'wide', 'tall', 'square', ...BATCH_LABELS]) {
    assert.ok(U[n].size < 500, `${n} is smaller than 500 bytes (${U[n].size})`);
  }
  assert.deepEqual(U.catPng.tags, ['pet', 'orange']);
  assert.equal(U.catPng.default_field_metadata.it.alt, 'Gatto arancione');
});

test('filter[fields][type]: eq, neq, in, notIn', T, async () => {
  await expectFilter({ type: { eq: 'image' } }, IMAGES);
  await expectFilter({ type: { eq: 'video' } }, ['clip']);
  await expectFilter({ type: { eq: 'pdfdocument' } }, ['pdf']);
  await expectFilter({ type: { in: ['video', 'pdfdocument'] } }, ['clip', 'pdf']);
  await expectFilter({ type: { neq: 'image' } }, ['clip', 'pdf', ...BATCH_LABELS]);
  await expectFilter({ type: { notIn: ['image', 'video'] } }, ['pdf', ...BATCH_LABELS]);
  await expectFilter({ type: { eq: 'audio' } }, []);
});

test('filter[fields][tags]: anyIn, allIn, contains, notIn, eq; smart_tags', T, async () => {
  await expectFilter({ tags: { anyIn: ['dog', 'motion'] } }, ['dogJpg', 'clip']);
  await expectFilter({ tags: { allIn: ['pet', 'orange'] } }, ['catPng']);
  await expectFilter({ tags: { allIn: ['pet', 'motion'] } }, []);
  await expectFilter({ tags: { contains: 'pet' } }, ['catPng', 'catJpg', 'dogJpg']);
  await expectFilter({ tags: { notIn: ['pet', 'batch'] } }, ['clip', 'pdf', 'svg', 'wide', 'tall', 'square']);
  await expectFilter({ tags: { eq: ['pet', 'dog'] } }, ['dogJpg']);
  await expectFilter({ tags: { eq: ['pet'] } }, ['catJpg']);
  // no recogniser: smart tags are always empty
  await expectFilter({ smart_tags: { contains: 'cat' } }, []);
  await expectFilter({ smart_tags: { anyIn: ['cat', 'dog'] } }, []);
});

test('filter[fields][colors]: buckets of the dominant colours', T, async () => {
  const has = async (fields) => q({ filter: { fields } });
  // The generated PNGs are solid red, green and blue; cat.png is orange, blue, green and white.
  const red = await has({ colors: { contains: 'red' } });
  assert.ok(red.includes('wide') && !red.includes('tall') && !red.includes('square'), `red: ${red}`);
  assert.ok(!red.includes('pdf') && !red.includes('batch1'), `red: ${red}`);
  const blueOnly = await has({ colors: { eq: ['blue'] } });
  assert.ok(blueOnly.includes('square') && !blueOnly.includes('catPng'), `eq [blue]: ${blueOnly}`);
  const orangeAndBlue = await has({ colors: { allIn: ['orange', 'blue'] } });
  assert.ok(orangeAndBlue.includes('catPng') && !orangeAndBlue.includes('square'), `allIn: ${orangeAndBlue}`);
  const redOrGreen = await has({ colors: { anyIn: ['red', 'green'] } });
  assert.ok(['wide', 'tall', 'catPng'].every((n) => redOrGreen.includes(n)) && !redOrGreen.includes('square'), `anyIn: ${redOrGreen}`);
  const notRed = await has({ colors: { notIn: ['red'] } });
  assert.ok(!notRed.includes('wide') && notRed.includes('tall') && notRed.includes('pdf'), `notIn: ${notRed}`);
});

test('filter[fields] size / width / height comparisons', T, async () => {
  await expectFilter({ size: { gte: 500, lte: 1000 } }, ['catJpg', 'dogJpg', 'pdf']);
  await expectFilter({ size: { gte: 500, lte: 1000 }, type: { eq: 'image' } }, ['catJpg', 'dogJpg']);
  await expectFilter({ size: { gt: 4000 } }, ['clip']);
  await expectFilter({ size: { eq: 824 } }, ['catJpg']);
  await expectFilter({ size: { lt: 500 } }, ['catPng', 'svg', 'wide', 'tall', 'square', ...BATCH_LABELS]);
  await expectFilter({ width: { gte: 64, lte: 80 }, type: { eq: 'image' } }, ['catPng', 'catJpg', 'svg']);
  await expectFilter({ width: { gt: 1000 } }, ['wide']);
  await expectFilter({ height: { gt: 100 } }, ['tall']);
  await expectFilter({ height: { eq: 16 } }, ['square']);
  // negations also match uploads without the value (spec §3.3: "Negations ... also match nulls")
  await expectFilter({ width: { neq: 64 } }, except('catPng', 'clip', 'svg'));
  await expectFilter({ size: { neq: 824 } }, except('catJpg'));
});

test('filter[fields] resolution and orientation', T, async () => {
  await expectFilter({ resolution: { eq: 'icon' }, type: { eq: 'image' } }, ['catPng', 'catJpg', 'dogJpg', 'square', 'svg']);
  await expectFilter({ resolution: { eq: 'small' } }, ['tall']);
  await expectFilter({ resolution: { eq: 'medium' } }, ['wide']);
  await expectFilter({ resolution: { in: ['small', 'medium'] } }, ['tall', 'wide']);
  await expectFilter({ resolution: { eq: 'large' } }, []);
  await expectFilter({ resolution: { notIn: ['icon', 'large'] }, type: { eq: 'image' } }, ['tall', 'wide']);
  await expectFilter({ orientation: { eq: 'portrait' } }, ['tall']);
  await expectFilter({ orientation: { eq: 'square' } }, ['square']);
  await expectFilter({ orientation: { eq: 'landscape' }, type: { eq: 'image' } }, ['catPng', 'catJpg', 'dogJpg', 'wide', 'svg']);
  await expectFilter(
    { orientation: { neq: 'landscape' }, type: { eq: 'image' } },
    ['tall', 'square'],
  );
});

test('filter[fields] alt / title in a locale (locale param), eq / in / matches / exists', T, async () => {
  // default locale is the first of ASSETD_LOCALES (en)
  await expectFilter({ alt: { eq: 'Orange cat sitting' } }, ['catPng']);
  await expectFilter({ alt: { eq: 'Orange cat sitting' } }, ['catPng'], { locale: 'en' });
  await expectFilter({ alt: { eq: 'Orange cat sitting' } }, [], { locale: 'it' });
  await expectFilter({ alt: { eq: 'Gatto arancione' } }, ['catPng'], { locale: 'it' });
  await expectFilter({ alt: { eq: 'Gatto arancione' } }, []);
  await expectFilter({ alt: { in: ['Orange cat sitting', 'Colour bars dog'] } }, ['catPng', 'dogJpg']);
  await expectFilter({ alt: { exists: true } }, ['catPng', 'dogJpg'], { locale: 'en' });
  await expectFilter({ alt: { exists: true } }, ['catPng'], { locale: 'it' });
  await expectFilter({ alt: { exists: false } }, except('catPng'), { locale: 'it' });
  await expectFilter({ alt: { matches: { pattern: 'GATTO' } } }, ['catPng'], { locale: 'it' });
  await expectFilter({ alt: { matches: { pattern: 'GATTO', caseSensitive: true } } }, [], { locale: 'it' });
  await expectFilter({ alt: { matches: { pattern: 'Gatto', caseSensitive: true } } }, ['catPng'], { locale: 'it' });
  await expectFilter({ alt: { notMatches: { pattern: 'cat' } } }, except('catPng'), { locale: 'en' });
  await expectFilter({ title: { eq: 'Micio' } }, ['catPng'], { locale: 'it' });
  await expectFilter({ title: { exists: true } }, ['catJpg']);
  await expectFilter({ title: { neq: 'Micio' } }, except('catPng'), { locale: 'it' });
  await expectFilter({ title: { notIn: ['Jpeg kitty'] } }, except('catJpg'), { locale: 'en' });
});

test('filter[fields] author / copyright / notes / basename / filename / mime_type / format / path', T, async () => {
  await expectFilter({ author: { matches: { pattern: 'photographer' } } }, ['catPng']);
  await expectFilter({ author: { exists: true } }, ['catPng']);
  await expectFilter({ author: { notMatches: { pattern: 'alice' } } }, except('catPng'));
  await expectFilter({ copyright: { matches: { pattern: 'bob' } } }, ['dogJpg']);
  await expectFilter({ copyright: { exists: false } }, except('dogJpg'));
  await expectFilter({ notes: { matches: { pattern: 'garden' } } }, ['catPng']);
  await expectFilter({ notes: { exists: true } }, ['catPng']);
  await expectFilter({ basename: { matches: { pattern: 'cat' } } }, ['catPng', 'catJpg']);
  await expectFilter({ basename: { matches: { pattern: 'CAT', caseSensitive: true } } }, []);
  await expectFilter({ basename: { matches: { pattern: '^batch-[1-3]$', regexp: true } } }, ['batch1', 'batch2', 'batch3']);
  await expectFilter({ filename: { matches: { pattern: '\\.jpg$', regexp: true } } }, ['catJpg', 'dogJpg']);
  await expectFilter({ filename: { notMatches: { pattern: 'batch' } } }, except(...BATCH_LABELS));
  await expectFilter({ mime_type: { matches: { pattern: 'image/' } } }, IMAGES);
  await expectFilter({ mime_type: { notMatches: { pattern: 'image' } } }, ['clip', 'pdf', ...BATCH_LABELS]);
  await expectFilter({ mime_type: { eq: 'image/png' } }, ['catPng', 'wide', 'tall', 'square']);
  await expectFilter({ mime_type: { in: ['video/mp4', 'application/pdf'] } }, ['clip', 'pdf']);
  await expectFilter({ format: { in: ['jpg', 'pdf'] } }, ['catJpg', 'dogJpg', 'pdf']);
  await expectFilter({ format: { notIn: ['txt', 'png'] } }, ['catJpg', 'dogJpg', 'clip', 'pdf', 'svg']);
  await expectFilter({ path: { eq: U.dogJpg.path.toUpperCase() } }, ['dogJpg']);
  await expectFilter({ md5: { in: [U.catPng.md5, U.clip.md5] } }, ['catPng', 'clip']);
});

test('filter[ids], filter[fields][id], and several fields ANDed', T, async () => {
  const got = await q({ filter: { ids: [U.catPng.id, U.dogJpg.id, U.clip.id].join(',') } });
  assert.deepEqual(got, sorted(['catPng', 'dogJpg', 'clip']));
  await expectFilter({ type: { eq: 'image' } }, ['catPng', 'dogJpg'], {
    filter: { ids: [U.catPng.id, U.dogJpg.id, U.clip.id].join(',') },
  });
  await expectFilter({ id: { in: [U.pdf.id, U.svg.id] } }, ['pdf', 'svg']);
  await expectFilter({ id: { neq: U.pdf.id }, tags: { contains: 'pet' }, format: { eq: 'jpg' } }, ['catJpg', 'dogJpg']);
});

test('filter[fields] in_use, _created_at, _updated_at (minute precision)', T, async () => {
  await expectFilter({ in_use: { eq: false } }, ALL());
  await expectFilter({ in_use: { eq: true } }, []);
  await expectFilter({ _created_at: { gte: '2000-01-01T00:00:00Z' } }, ALL());
  await expectFilter({ _created_at: { lt: '2000-01-01T00:00:00Z' } }, []);
  const inAnHour = new Date(Date.now() + 3600_000).toISOString();
  await expectFilter({ _created_at: { gt: inAnHour } }, []);
  await expectFilter({ _updated_at: { lte: inAnHour } }, ALL());
  await expectFilter({ _updated_at: { gt: inAnHour } }, []);
  // eq compares at minute precision: everything created in catPng's minute
  const minute = (iso) => iso.slice(0, 16); // YYYY-MM-DDTHH:MM
  const m = minute(U.catPng.created_at);
  const sameMinute = ALL().filter((n) => minute(U[n].created_at) === m);
  await expectFilter({ _created_at: { eq: `${m}:00Z` } }, sameMinute);
  await expectFilter({ _created_at: { neq: `${m}:00Z` } }, except(...sameMinute));
});

test('filter[query]: prefix per word, all words, searched fields, locale', T, async () => {
  await expectQuery('orange', ['catPng']); // tag + en alt
  await expectQuery('photog', ['catPng']); // prefix of author "Photographer"
  await expectQuery('alice garden', ['catPng']); // author + notes, both words match
  await expectQuery('alice dog', []); // every word must match
  await expectQuery('ange', []); // prefix, not substring
  await expectQuery('kitty', ['catJpg']); // en title
  await expectQuery('bob', ['dogJpg']); // copyright
  await expectQuery('pet', ['catPng', 'catJpg', 'dogJpg']); // tags
  await expectQuery('dog', ['dogJpg']); // basename, tag, alt
  await expectQuery('batch', BATCH_LABELS); // basename / filename / tag
  await expectQuery('drawing', ['svg']); // basename
  await expectQuery('gatto', []); // it alt is not searched in the default (en) locale
  await expectQuery('gatto', ['catPng'], { locale: 'it' });
  await expectQuery('micio', ['catPng'], { locale: 'it' });
  await expectQuery('kitty', [], { locale: 'it' }); // en title is not searched in it
  await expectQuery('pet', ['catJpg', 'dogJpg'], { filter: { fields: { format: { eq: 'jpg' } } } });
  // _rank ordering is allowed with a query
  const ranked = await srv.client.uploads.list({ filter: { query: 'pet' }, order_by: '_rank_DESC' });
  assert.deepEqual(sorted(names(ranked)), sorted(['catPng', 'catJpg', 'dogJpg']));
});

function cmpBy(...keys) {
  return (a, b) => {
    for (const [k, dir] of keys) {
      const x = a[k];
      const y = b[k];
      if (x < y) return dir === 'ASC' ? -1 : 1;
      if (x > y) return dir === 'ASC' ? 1 : -1;
    }
    return 0;
  };
}

/** list must be a permutation of `expectedLabels`, ordered by cmp (ties in any order). */
function assertOrdered(list, cmp, expectedLabels, msg) {
  assert.deepEqual(sorted(names(list)), sorted(expectedLabels), `${msg}: set`);
  for (let i = 1; i < list.length; i++) {
    assert.ok(
      cmp(list[i - 1], list[i]) <= 0,
      `${msg}: ${names(list).join(', ')} is out of order at ${i} ` +
        `(${label[list[i - 1].id]} before ${label[list[i].id]})`,
    );
  }
}

test('order_by with two keys', T, async () => {
  const c = srv.client;
  const images = { filter: { fields: { type: { eq: 'image' } } } };

  // mime_type ASC then basename DESC: no ties, so the order is exact
  const l1 = await c.uploads.list({ ...images, order_by: 'mime_type_ASC,basename_DESC' });
  assert.deepEqual(names(l1), ['dogJpg', 'catJpg', 'wide', 'tall', 'square', 'catPng', 'svg']);

  // format ASC then size DESC
  const l2 = await c.uploads.list({ ...images, order_by: 'format_ASC,size_DESC' });
  assertOrdered(l2, cmpBy(['format', 'ASC'], ['size', 'DESC']), IMAGES, 'format_ASC,size_DESC');
  assert.deepEqual(names(l2).slice(0, 2), ['catJpg', 'dogJpg'], 'jpg first, bigger first');
  assert.equal(names(l2)[6], 'svg', 'svg last');

  // size DESC then id ASC over everything
  const l3 = await c.uploads.list({ order_by: 'size_DESC,id_ASC', page: { limit: 500 } });
  assertOrdered(l3, cmpBy(['size', 'DESC'], ['id', 'ASC']), ALL(), 'size_DESC,id_ASC');
  assert.deepEqual(names(l3).slice(0, 4), ['clip', 'catJpg', 'dogJpg', 'pdf']);

  // single keys
  const l4 = await c.uploads.list({ filter: { fields: { tags: { eq: ['batch'] } } }, order_by: 'filename_DESC' });
  assert.deepEqual(names(l4), [...BATCH_LABELS].reverse());
  const l5 = await c.uploads.list({ order_by: 'basename_ASC', page: { limit: 500 } });
  assertOrdered(l5, cmpBy(['basename', 'ASC']), ALL(), 'basename_ASC'); // cat.png and cat.jpg tie
  const l6 = await c.uploads.list({ order_by: 'id_ASC', page: { limit: 500 } });
  assert.deepEqual(l6.map((u) => u.id), Object.values(U).map((u) => u.id).sort());
  const l7 = await c.uploads.list({ order_by: '_created_at_ASC,id_DESC', page: { limit: 500 } });
  assertOrdered(l7, cmpBy(['created_at', 'ASC'], ['id', 'DESC']), ALL(), '_created_at_ASC,id_DESC');
  const l8 = await c.uploads.list({ order_by: '_updated_at_DESC', page: { limit: 500 } });
  assertOrdered(l8, cmpBy(['updated_at', 'DESC']), ALL(), '_updated_at_DESC');

  // resolution is an accepted key and sorts by bucket (icon, small, medium: either way round for ASC,
  // DESC being the reverse)
  const l9 = await c.uploads.list({
    filter: { ids: [U.square.id, U.tall.id, U.wide.id].join(',') },
    order_by: 'resolution_ASC',
  });
  assert.ok(
    ['square,tall,wide', 'wide,tall,square'].includes(names(l9).join()),
    `resolution_ASC gave ${names(l9).join()}`,
  );
  const l10 = await c.uploads.list({
    filter: { ids: [U.square.id, U.tall.id, U.wide.id].join(',') },
    order_by: 'resolution_DESC',
  });
  assert.deepEqual(names(l10), [...names(l9)].reverse(), 'resolution_DESC is the reverse of resolution_ASC');
});

test('default order is _created_at_DESC (newest first)', T, async () => {
  const l = await srv.client.uploads.list({ page: { limit: 500 } });
  assertOrdered(l, cmpBy(['created_at', 'DESC']), ALL(), 'default order');
  const explicit = await srv.client.uploads.list({ order_by: '_created_at_DESC', page: { limit: 500 } });
  assert.deepEqual(explicit.map((u) => u.id), l.map((u) => u.id));
});

test('paging: page[limit], page[offset], limit 0 = count only, meta.total_count with filters', T, async () => {
  const c = srv.client;
  const total = ALL().length;
  const r0 = await c.uploads.rawList({ page: { limit: 0 } });
  assert.deepEqual(r0.data, []);
  assert.equal(r0.meta.total_count, total);
  const def = await c.uploads.rawList();
  assert.equal(def.data.length, total, 'default limit 30 covers all');
  const r1 = await c.uploads.rawList({ page: { offset: total - 2, limit: 5 } });
  assert.equal(r1.data.length, 2);
  assert.equal(r1.meta.total_count, total);
  assert.deepEqual(r1.data.map((d) => d.id), def.data.slice(total - 2).map((d) => d.id));
  const r2 = await c.uploads.rawList({ page: { offset: 3, limit: 4 } });
  assert.deepEqual(r2.data.map((d) => d.id), def.data.slice(3, 7).map((d) => d.id));
  const beyond = await c.uploads.rawList({ page: { offset: 1000, limit: 5 } });
  assert.deepEqual(beyond.data, []);
  assert.equal(beyond.meta.total_count, total);
  const img = await c.uploads.rawList({ filter: { fields: { type: { eq: 'image' } } }, page: { limit: 2 } });
  assert.equal(img.data.length, 2);
  assert.equal(img.meta.total_count, IMAGES.length);
  const qr = await c.uploads.rawList({ filter: { query: 'pet' }, page: { limit: 0 } });
  assert.equal(qr.meta.total_count, 3);
  const max = await c.uploads.rawList({ page: { limit: 500 } });
  assert.equal(max.data.length, total);
  await expectApiError(c.uploads.rawList({ page: { limit: 501 } }), 422, 'INVALID_PARAMS');
  await expectApiError(c.uploads.rawList({ page: { offset: -1 } }), 422, 'INVALID_PARAMS');
});

test('unsupported filters and orders are rejected with 422, never an unfiltered list', T, async () => {
  const c = srv.client;
  await expectApiError(c.uploads.list({ filter: { fields: { colors: { contains: 'chartreuse' } } } }), 422, 'INVALID_FILTER_FIELDS_PARAM');
  await expectApiError(c.uploads.list({ filter: { fields: { width: { matches: { pattern: '6' } } } } }), 422, 'INVALID_FILTER_FIELDS_PARAM');
  await expectApiError(c.uploads.list({ filter: { fields: { author: { eq: 'Alice' } } } }), 422, 'INVALID_FILTER_FIELDS_PARAM');
  await expectApiError(c.uploads.list({ filter: { fields: { resolution: { eq: 'huge' } } } }), 422, 'INVALID_FILTER_FIELDS_PARAM');
  await expectApiError(c.uploads.list({ order_by: 'made_up_ASC' }), 422, 'INVALID_ORDERING');
  await expectApiError(c.uploads.list({ order_by: 'size' }), 422, 'INVALID_ORDERING');
  await expectApiError(c.uploads.list({ order_by: 'size_ASC,nope_DESC' }), 422, 'INVALID_ORDERING');
  await expectApiError(c.uploads.list({ order_by: '_rank_DESC' }), 422, 'INVALID_ORDERING'); // no filter[query]
  await expectApiError(c.uploads.list({ locale: 'fr' }), 422);
  await expectApiError(c.uploads.list({ filter: { type: 'image' } }), 422); // filter[type] is not an uploads parameter
});

test('listPagedIterator (perPage 2): every upload exactly once, newest first', T, async () => {
  const c = srv.client;
  const expected = await c.uploads.list({ page: { limit: 500 } });
  const seen = [];
  for await (const u of c.uploads.listPagedIterator({}, { perPage: 2 })) seen.push(u);
  const ids = seen.map((u) => u.id);
  assert.equal(new Set(ids).size, ids.length, `duplicates in ${names(seen).join(', ')}`);
  assert.deepEqual(sorted(names(seen)), ALL());
  assert.deepEqual(ids, expected.map((u) => u.id), 'same order as the default list');
  assertOrdered(seen, cmpBy(['created_at', 'DESC']), ALL(), 'iterator order');

  // sequential paging (concurrency 1) gives the same sequence
  const seq = [];
  for await (const u of c.uploads.listPagedIterator({}, { perPage: 3, concurrency: 1 })) seq.push(u.id);
  assert.deepEqual(seq, ids);
});

test('listPagedIterator with a filter and with an order', T, async () => {
  const c = srv.client;
  const seen = [];
  for await (const u of c.uploads.listPagedIterator({ filter: { fields: { tags: { contains: 'batch' } } } }, { perPage: 2 })) {
    seen.push(u);
  }
  const ids = seen.map((u) => u.id);
  assert.equal(new Set(ids).size, ids.length, `duplicates in ${names(seen).join(', ')}`);
  assert.deepEqual(sorted(names(seen)), sorted(BATCH_LABELS));
  assertOrdered(seen, cmpBy(['created_at', 'DESC']), BATCH_LABELS, 'filtered iterator order');

  const byName = [];
  for await (const u of c.uploads.listPagedIterator(
    { filter: { query: 'batch' }, order_by: 'basename_DESC' },
    { perPage: 2 },
  )) {
    byName.push(u);
  }
  assert.deepEqual(names(byName), [...BATCH_LABELS].reverse());

  const images = [];
  for await (const u of c.uploads.listPagedIterator(
    { filter: { fields: { type: { eq: 'image' } } }, order_by: 'mime_type_ASC,basename_DESC' },
    { perPage: 2 },
  )) {
    images.push(u);
  }
  assert.deepEqual(names(images), ['dogJpg', 'catJpg', 'wide', 'tall', 'square', 'catPng', 'svg']);
});
