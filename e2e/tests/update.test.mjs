// client.uploads.update / updateFromLocalFile: metadata, tags, rename, default_field_metadata,
// validation, relationships, spreading, new versions, keep_url.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import {
  useServer,
  fixture,
  fileMd5,
  fileSize,
  fileBytes,
  getBytes,
  expectApiError,
  putViaUploadRequest,
} from '../harness.mjs';

const T = { timeout: 90000 };
const fx = {};
let img; // cat.jpg upload used for metadata tests
let vid; // clip.mp4
let pdf; // doc.pdf
let coll;

const srv = useServer({}, async ({ client: c }) => {
  for (const name of ['cat.png', 'cat.jpg', 'dog.jpg', 'clip.mp4', 'doc.pdf']) {
    fx[name] = await fixture(name);
  }
  img = await c.uploads.createFromLocalFile({ localPath: fx['cat.jpg'] });
  vid = await c.uploads.createFromLocalFile({ localPath: fx['clip.mp4'] });
  pdf = await c.uploads.createFromLocalFile({ localPath: fx['doc.pdf'] });
  coll = await c.uploadCollections.create({ label: 'Posts' });
});

// Fields a background task may legitimately change at any time (smart tags, antivirus meta).
function stable(u) {
  const copy = structuredClone(u);
  delete copy.smart_tags;
  delete copy.meta;
  return copy;
}

function withoutVolatile(u, ...extra) {
  const copy = stable(u);
  for (const k of ['updated_at', ...extra]) delete copy[k];
  return copy;
}

test('author / copyright / notes: set and null out', T, async () => {
  const c = srv.client;
  let r = await c.uploads.update(img.id, { author: 'Mark Smith', copyright: '2020 ACME', notes: 'Nyan the cat' });
  assert.equal(r.id, img.id);
  assert.equal(r.author, 'Mark Smith');
  assert.equal(r.copyright, '2020 ACME');
  assert.equal(r.notes, 'Nyan the cat');
  let f = await c.uploads.find(img.id);
  assert.equal(f.author, 'Mark Smith');
  assert.equal(f.copyright, '2020 ACME');
  assert.equal(f.notes, 'Nyan the cat');

  // a partial update leaves the other fields alone
  r = await c.uploads.update(img.id, { notes: 'only notes' });
  assert.equal(r.author, 'Mark Smith');
  assert.equal(r.copyright, '2020 ACME');
  assert.equal(r.notes, 'only notes');

  r = await c.uploads.update(img.id, { author: null, copyright: null, notes: null });
  assert.equal(r.author, null);
  assert.equal(r.copyright, null);
  assert.equal(r.notes, null);
  f = await c.uploads.find(img.id);
  assert.equal(f.author, null);
  assert.equal(f.copyright, null);
  assert.equal(f.notes, null);
});

test('tags are replaced, [] clears', T, async () => {
  const c = srv.client;
  let r = await c.uploads.update(img.id, { tags: ['a', 'b'] });
  assert.deepEqual(r.tags, ['a', 'b']);
  r = await c.uploads.update(img.id, { tags: ['b', 'c'] });
  assert.deepEqual(r.tags, ['b', 'c']);
  r = await c.uploads.update(img.id, { tags: [] });
  assert.deepEqual(r.tags, []);
  const f = await c.uploads.find(img.id);
  assert.deepEqual(f.tags, []);
});

test('basename rename: new filename and url, old url redirects (301)', T, async () => {
  const c = srv.client;
  const p = fx['cat.png'];
  const u = await c.uploads.createFromLocalFile({ localPath: p });
  const oldUrl = u.url;
  const r = await c.uploads.update(u.id, { basename: 'renamed-cat' });
  assert.equal(r.id, u.id);
  assert.equal(r.basename, 'renamed-cat');
  assert.equal(r.filename, 'renamed-cat.png');
  assert.equal(r.format, 'png');
  assert.notEqual(r.url, oldUrl, 'url must change on rename');
  assert.equal(r.url, `${srv.baseUrl}${r.path}`);
  assert.ok(r.path.endsWith('renamed-cat.png'), `path ${r.path} should end with the new filename`);
  assert.equal(r.md5, u.md5);

  const f = await c.uploads.find(u.id);
  assert.equal(f.url, r.url);
  assert.equal(f.filename, 'renamed-cat.png');

  const neu = await getBytes(r.url);
  assert.equal(neu.status, 200);
  assert.ok(neu.buf.equals(fileBytes(p)), 'new url serves the bytes');
  assert.match(neu.headers.get('content-type') ?? '', /^image\/png\b/);

  const old = await getBytes(oldUrl);
  assert.equal(old.status, 301, `old url should answer 301, got ${old.status}`);
  const loc = old.headers.get('location');
  assert.ok(loc, '301 needs a Location header');
  assert.equal(new URL(loc, oldUrl).href, r.url);
});

test('default_field_metadata: locale-keyed patches', T, async () => {
  const c = srv.client;
  let r = await c.uploads.update(img.id, {
    default_field_metadata: {
      en: { alt: 'A', title: 'T', custom_data: { k: 'v' }, focal_point: { x: 0.2, y: 0.8 } },
    },
  });
  let d = r.default_field_metadata;
  assert.ok(d.en && d.it, `locale-keyed shape expected, got ${JSON.stringify(d)}`);
  assert.equal(d.en.alt, 'A');
  assert.equal(d.en.title, 'T');
  assert.deepEqual(d.en.custom_data, { k: 'v' });
  assert.deepEqual(d.en.focal_point, { x: 0.2, y: 0.8 });
  assert.ok('poster_time' in d.en, 'poster_time key always present');
  assert.equal(d.en.poster_time, null);
  assert.equal(d.it.alt, null);
  assert.equal(d.it.title, null);
  assert.deepEqual(d.it.custom_data, {});
  assert.deepEqual(d.it.focal_point, { x: 0.2, y: 0.8 }, 'focal point replicated into every locale');

  r = await c.uploads.update(img.id, { default_field_metadata: { it: { alt: 'B' } } });
  d = r.default_field_metadata;
  assert.equal(d.en.alt, 'A', 'en alt kept');
  assert.equal(d.en.title, 'T', 'en title kept');
  assert.deepEqual(d.en.custom_data, { k: 'v' }, 'en custom_data kept');
  assert.equal(d.it.alt, 'B');
  assert.deepEqual(d.en.focal_point, { x: 0.2, y: 0.8 }, 'focal point kept');
  assert.deepEqual(d.it.focal_point, { x: 0.2, y: 0.8 });

  const f = await c.uploads.find(img.id);
  assert.deepEqual(f.default_field_metadata, d, 'find returns what update returned');
});

test('default_field_metadata: field-keyed patch', T, async () => {
  const c = srv.client;
  const r = await c.uploads.update(img.id, { default_field_metadata: { alt: { it: 'C' } } });
  const d = r.default_field_metadata;
  assert.ok(d.en && d.it, `responses stay locale-keyed, got ${JSON.stringify(d)}`);
  assert.equal(d.en.alt, 'A', 'en alt kept');
  assert.equal(d.it.alt, 'C');
  assert.equal(d.en.title, 'T');
  assert.deepEqual(d.en.focal_point, { x: 0.2, y: 0.8 });
});

test('focal_point out of range is rejected (422 INVALID_FIELD) and nothing changes', T, async () => {
  const c = srv.client;
  const before = await c.uploads.find(img.id);
  await expectApiError(
    c.uploads.update(img.id, { default_field_metadata: { en: { focal_point: { x: 1.5, y: 0.5 } } }, notes: 'must not stick' }),
    422,
    'INVALID_FIELD',
    (details, body) => assert.match(String(details.field), /focal_point/, `details.field should name focal_point: ${body}`),
  );
  const afterwards = await c.uploads.find(img.id);
  assert.deepEqual(stable(afterwards), stable(before), 'upload unchanged after a rejected update');
});

test('focal_point on a PDF is rejected (422)', T, async () => {
  const c = srv.client;
  const before = await c.uploads.find(pdf.id);
  await expectApiError(
    c.uploads.update(pdf.id, { default_field_metadata: { en: { focal_point: { x: 0.5, y: 0.5 } } } }),
    422,
    'INVALID_FIELD',
  );
  assert.deepEqual(stable(await c.uploads.find(pdf.id)), stable(before));
});

test('poster_time on a video is accepted and read back', T, async () => {
  const c = srv.client;
  const r = await c.uploads.update(vid.id, { default_field_metadata: { en: { poster_time: 0.5 } } });
  assert.equal(r.default_field_metadata.en.poster_time, 0.5);
  assert.equal(r.default_field_metadata.it.poster_time, 0.5, 'poster time replicated into every locale');
  const f = await c.uploads.find(vid.id);
  assert.equal(f.default_field_metadata.en.poster_time, 0.5);
});

test('poster_time on an image is rejected (422)', T, async () => {
  const c = srv.client;
  const before = await c.uploads.find(img.id);
  await expectApiError(
    c.uploads.update(img.id, { default_field_metadata: { en: { poster_time: 0.5 } } }),
    422,
    'INVALID_FIELD',
  );
  assert.deepEqual(stable(await c.uploads.find(img.id)), stable(before));
});

test('negative poster_time is rejected (422)', T, async () => {
  const c = srv.client;
  const before = await c.uploads.find(vid.id);
  await expectApiError(
    c.uploads.update(vid.id, { default_field_metadata: { en: { poster_time: -1 } } }),
    422,
    'INVALID_FIELD',
  );
  const f = await c.uploads.find(vid.id);
  assert.deepEqual(stable(f), stable(before));
  assert.equal(f.default_field_metadata.en.poster_time, 0.5);
});

test('upload_collection: set and unset', T, async () => {
  const c = srv.client;
  let r = await c.uploads.update(img.id, { upload_collection: { type: 'upload_collection', id: coll.id } });
  assert.deepEqual(r.upload_collection, { type: 'upload_collection', id: coll.id });
  assert.deepEqual((await c.uploads.find(img.id)).upload_collection, { type: 'upload_collection', id: coll.id });
  r = await c.uploads.update(img.id, { upload_collection: null });
  assert.equal(r.upload_collection, null);
  assert.equal((await c.uploads.find(img.id)).upload_collection, null);
});

test('creator is an access_token and can be echoed back', T, async () => {
  const c = srv.client;
  const f = await c.uploads.find(img.id);
  assert.equal(f.creator?.type, 'access_token');
  assert.equal(typeof f.creator.id, 'string');
  assert.ok(f.creator.id.length > 0);
  const r = await c.uploads.update(img.id, { creator: f.creator });
  assert.deepEqual(r.creator, f.creator);
});

test('spreading a fetched upload back changes only what differs', T, async () => {
  const c = srv.client;
  // give it some state first
  await c.uploads.update(img.id, { tags: ['spread'], upload_collection: { type: 'upload_collection', id: coll.id } });
  const u = await c.uploads.find(img.id);
  const r = await c.uploads.update(u.id, { ...u, notes: 'z' });
  assert.equal(r.notes, 'z');
  assert.equal(r.url, u.url, 'same path = no-op, url unchanged');
  assert.equal(r.path, u.path);
  assert.equal(r.md5, u.md5);
  assert.deepEqual(withoutVolatile(r, 'notes'), withoutVolatile(u, 'notes'));
  const g = await getBytes(u.url);
  assert.equal(g.status, 200);
  assert.ok(g.buf.equals(fileBytes(fx['cat.jpg'])));
});

test('updateFromLocalFile: new version keeps id and metadata, old url 404', T, async () => {
  const c = srv.client;
  const u = await c.uploads.createFromLocalFile({
    localPath: fx['cat.jpg'],
    tags: ['keep'],
    default_field_metadata: { en: { alt: 'kept alt' } },
    upload_collection: { type: 'upload_collection', id: coll.id },
  });
  const dog = fx['dog.jpg'];
  const r = await c.uploads.updateFromLocalFile(u.id, { localPath: dog });
  assert.equal(r.id, u.id);
  assert.deepEqual(r.tags, ['keep']);
  assert.equal(r.default_field_metadata.en.alt, 'kept alt');
  assert.deepEqual(r.upload_collection, { type: 'upload_collection', id: coll.id });
  assert.equal(r.md5, fileMd5(dog));
  assert.equal(r.size, fileSize(dog));
  assert.equal(r.width, 40);
  assert.equal(r.height, 30);
  assert.equal(r.mime_type, 'image/jpeg');
  assert.notEqual(r.url, u.url, 'create_new_url: url changes');

  const neu = await getBytes(r.url);
  assert.equal(neu.status, 200);
  assert.ok(neu.buf.equals(fileBytes(dog)));
  assert.match(neu.headers.get('cache-control') ?? '', /immutable/, 'a fresh url is immutable');

  const old = await getBytes(u.url);
  assert.equal(old.status, 404, `old url should be gone (404), got ${old.status}`);

  const f = await c.uploads.find(u.id);
  assert.equal(f.md5, fileMd5(dog));
  assert.equal(f.url, r.url);
});

test('keep_url replacement: same url, new bytes, no longer immutable', T, async () => {
  const c = srv.client;
  const u = await c.uploads.createFromLocalFile({ localPath: fx['cat.jpg'] });
  const first = await getBytes(u.url);
  assert.equal(first.status, 200);
  assert.match(first.headers.get('cache-control') ?? '', /immutable/, 'never-replaced url is immutable');
  const firstEtag = first.headers.get('etag');

  const dog = fx['dog.jpg'];
  const req = await putViaUploadRequest(c, dog, 'x.jpg', 'image/jpeg');
  assert.equal(typeof req.id, 'string');
  assert.ok(/^https?:\/\//.test(req.url), `upload request url must be absolute: ${req.url}`);

  const r = await c.uploads.update(u.id, { path: req.id }, { replace_strategy: 'keep_url' });
  assert.equal(r.id, u.id);
  assert.equal(r.url, u.url, 'keep_url keeps the url');
  assert.equal(r.path, u.path);
  assert.equal(r.md5, fileMd5(dog));
  assert.equal(r.size, fileSize(dog));
  assert.equal(r.width, 40);
  assert.equal(r.height, 30);

  const got = await getBytes(u.url);
  assert.equal(got.status, 200);
  assert.ok(got.buf.equals(fileBytes(dog)), 'url now serves the new bytes');
  const cc = got.headers.get('cache-control') ?? '';
  assert.doesNotMatch(cc, /immutable/, `replaced url must not be immutable (Cache-Control: ${cc})`);
  assert.notEqual(got.headers.get('etag'), firstEtag, 'ETag changes with the content');
});

test('keep_url with a different format (PNG onto JPEG) is rejected (422) and nothing changes', T, async () => {
  const c = srv.client;
  const u = await c.uploads.createFromLocalFile({ localPath: fx['cat.jpg'] });
  const before = await c.uploads.find(u.id);
  const req = await putViaUploadRequest(c, fx['cat.png'], 'x.png', 'image/png');
  await expectApiError(c.uploads.update(u.id, { path: req.id }, { replace_strategy: 'keep_url' }), 422);
  assert.deepEqual(stable(await c.uploads.find(u.id)), stable(before));
  const got = await getBytes(u.url);
  assert.equal(got.status, 200);
  assert.ok(got.buf.equals(fileBytes(fx['cat.jpg'])), 'url still serves the original bytes');
});
