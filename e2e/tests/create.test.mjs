// Creating uploads through the official client: createFromLocalFile, createFromUrl, dedupe.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import fs from 'node:fs';

import { generateId, isValidId } from '@datocms/cma-client-node';
import { useServer, fixture, fileMd5, fileSize, fileBytes, mp4Duration, getBytes } from '../harness.mjs';

const T = { timeout: 90000 };
const fx = {};
const srv = useServer({}, async () => {
  for (const name of ['cat.png', 'cat.jpg', 'dog.jpg', 'clip.mp4', 'doc.pdf', 'sound.mp3']) {
    fx[name] = await fixture(name);
  }
});

function assertAbsoluteUrl(u) {
  assert.equal(typeof u.url, 'string');
  const parsed = new URL(u.url); // throws on relative URLs
  assert.match(parsed.protocol, /^https?:$/);
  assert.equal(u.url, `${srv.baseUrl}${u.path}`, 'url must be ASSETD_PUBLIC_URL + path');
}

test('createFromLocalFile: PNG image', T, async () => {
  const p = fx['cat.png'];
  const u = await srv.client.uploads.createFromLocalFile({ localPath: p });
  assert.equal(u.type, 'upload');
  assert.ok(isValidId(u.id), `upload id ${u.id} must be a valid DatoCMS id`);
  assert.equal(u.width, 64);
  assert.equal(u.height, 48);
  assert.equal(u.is_image, true);
  assert.equal(u.mime_type, 'image/png');
  assert.equal(u.format, 'png');
  assert.equal(u.md5, fileMd5(p));
  assert.equal(u.size, fileSize(p));
  assert.equal(u.filename, 'cat.png');
  assert.equal(u.basename, 'cat');
  assert.equal(typeof u.blurhash, 'string');
  assert.ok(u.blurhash.length > 0, 'blurhash non-empty');
  assert.equal(typeof u.thumbhash, 'string');
  assert.ok(u.thumbhash.length > 0, 'thumbhash non-empty');
  assert.equal(u.duration, null);
  assert.equal(u.frame_rate, null);
  assert.deepEqual(u.tags, []);
  assert.equal(u.author, null);
  assert.equal(u.upload_collection, null);
  assert.equal(u.creator?.type, 'access_token');
  assertAbsoluteUrl(u);

  const { status, headers, buf } = await getBytes(u.url);
  assert.equal(status, 200);
  assert.ok(buf.equals(fileBytes(p)), 'GET url must return exactly the uploaded bytes');
  assert.match(headers.get('content-type') ?? '', /^image\/png\b/);
  assert.equal(headers.get('x-content-type-options'), 'nosniff');
  const etag = headers.get('etag');
  assert.ok(etag && !etag.startsWith('W/'), `strong ETag expected, got ${etag}`);

  // find returns the same resource
  const found = await srv.client.uploads.find(u.id);
  assert.equal(found.md5, u.md5);
  assert.equal(found.url, u.url);
});

test('createFromLocalFile: MP4 video', T, async () => {
  const p = fx['clip.mp4'];
  const expected = mp4Duration(p);
  const u = await srv.client.uploads.createFromLocalFile({ localPath: p });
  assert.equal(u.mime_type, 'video/mp4');
  assert.equal(u.is_image, false);
  assert.equal(u.format, 'mp4');
  assert.equal(u.md5, fileMd5(p));
  assert.equal(u.size, fileSize(p));
  assert.equal(typeof u.duration, 'number', `duration must be a number, got ${u.duration}`);
  assert.ok(Math.abs(u.duration - expected) <= 0.6, `duration ${u.duration} should be ≈ ${expected}`);
  assert.equal(typeof u.frame_rate, 'number', `frame_rate must be a number, got ${u.frame_rate}`);
  assert.equal(Math.round(u.frame_rate), 25);
  assert.equal(u.width, 64);
  assert.equal(u.height, 48);
  assertAbsoluteUrl(u);
  const { status, headers, buf } = await getBytes(u.url);
  assert.equal(status, 200);
  assert.ok(buf.equals(fileBytes(p)));
  assert.match(headers.get('content-type') ?? '', /^video\/mp4\b/);
});

test('createFromLocalFile: PDF document', T, async () => {
  const p = fx['doc.pdf'];
  const u = await srv.client.uploads.createFromLocalFile({ localPath: p });
  assert.equal(u.mime_type, 'application/pdf');
  assert.equal(u.is_image, false);
  assert.equal(u.width, null);
  assert.equal(u.height, null);
  assert.equal(u.duration, null);
  assert.equal(u.frame_rate, null);
  assert.equal(u.format, 'pdf');
  assert.equal(u.filename, 'doc.pdf');
  assert.equal(u.md5, fileMd5(p));
  assert.equal(u.size, fileSize(p));
  assert.deepEqual(u.colors, [], 'colors is [] for non-images');
  const { status, headers, buf } = await getBytes(u.url);
  assert.equal(status, 200);
  assert.ok(buf.equals(fileBytes(p)));
  assert.match(headers.get('content-type') ?? '', /^application\/pdf\b/);
});

test('createFromLocalFile: MP3 audio', T, async () => {
  const p = fx['sound.mp3'];
  const u = await srv.client.uploads.createFromLocalFile({ localPath: p });
  assert.equal(u.mime_type, 'audio/mpeg');
  assert.equal(u.is_image, false);
  assert.equal(u.format, 'mp3');
  assert.equal(u.width, null);
  assert.equal(u.height, null);
  assert.equal(u.frame_rate, null);
  assert.equal(u.md5, fileMd5(p));
  // tests/fixtures/generate.sh: a 1 s sine (ffprobe reports 1.152 s because of MP3 padding)
  assert.equal(typeof u.duration, 'number', `duration must be a number, got ${u.duration}`);
  assert.ok(Math.abs(u.duration - 1.15) <= 0.6, `duration ${u.duration} should be ≈ 1.15`);
  const { status, headers, buf } = await getBytes(u.url);
  assert.equal(status, 200);
  assert.ok(buf.equals(fileBytes(p)));
  assert.match(headers.get('content-type') ?? '', /^audio\/mpeg\b/);
});

test('createFromLocalFile with a client-chosen id', T, async () => {
  const id = generateId();
  assert.equal(id.length, 22);
  const u = await srv.client.uploads.createFromLocalFile({ localPath: fx['cat.png'], id });
  assert.equal(u.id, id);
  const found = await srv.client.uploads.find(id);
  assert.equal(found.id, id);
  assert.equal(found.md5, fileMd5(fx['cat.png']));
});

test('createFromLocalFile with tags, author, default_field_metadata and upload_collection', T, async () => {
  const coll = await srv.client.uploadCollections.create({ label: 'Posts' });
  assert.equal(coll.type, 'upload_collection');
  assert.equal(coll.label, 'Posts');
  assert.ok(isValidId(coll.id));

  const u = await srv.client.uploads.createFromLocalFile({
    localPath: fx['cat.jpg'],
    tags: ['cats', 'pets'],
    author: 'Mark Smith',
    copyright: '2020 ACME',
    notes: 'Nyan',
    default_field_metadata: { en: { alt: 'x' } },
    upload_collection: { type: 'upload_collection', id: coll.id },
  });
  assert.deepEqual(u.tags, ['cats', 'pets']);
  assert.equal(u.author, 'Mark Smith');
  assert.equal(u.copyright, '2020 ACME');
  assert.equal(u.notes, 'Nyan');
  assert.deepEqual(u.upload_collection, { type: 'upload_collection', id: coll.id });
  const dfm = u.default_field_metadata;
  assert.ok(dfm.en && dfm.it, `locale-keyed default_field_metadata with en and it expected, got ${JSON.stringify(dfm)}`);
  assert.equal(dfm.en.alt, 'x');
  assert.equal(dfm.it.alt, null);
  assert.equal(u.mime_type, 'image/jpeg');
  assert.equal(u.format, 'jpg');
  assert.equal(u.width, 80);
  assert.equal(u.height, 60);

  // persisted
  const found = await srv.client.uploads.find(u.id);
  assert.deepEqual(found.tags, ['cats', 'pets']);
  assert.equal(found.default_field_metadata.en.alt, 'x');
  assert.deepEqual(found.upload_collection, { type: 'upload_collection', id: coll.id });
});

test('createFromUrl downloads from a local HTTP server', T, async () => {
  const p = fx['cat.jpg'];
  const bytes = fileBytes(p);
  const hits = [];
  const source = http.createServer((req, res) => {
    hits.push(req.url);
    if (req.method === 'GET' && req.url === '/pics/cat.jpg') {
      res.writeHead(200, { 'Content-Type': 'image/jpeg', 'Content-Length': bytes.length });
      res.end(bytes);
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => source.listen(0, '127.0.0.1', r));
  try {
    const { port } = source.address();
    const u = await srv.client.uploads.createFromUrl({ url: `http://127.0.0.1:${port}/pics/cat.jpg`, tags: ['from-url'] });
    assert.equal(u.filename, 'cat.jpg');
    assert.equal(u.basename, 'cat');
    assert.equal(u.md5, fileMd5(p));
    assert.equal(u.size, bytes.length);
    assert.equal(u.mime_type, 'image/jpeg');
    assert.equal(u.width, 80);
    assert.equal(u.height, 60);
    assert.deepEqual(u.tags, ['from-url']);
    assert.deepEqual(hits, ['/pics/cat.jpg']);
    const got = await getBytes(u.url);
    assert.equal(got.status, 200);
    assert.ok(got.buf.equals(bytes));
  } finally {
    await new Promise((r) => source.close(r));
  }
});

test('skipCreationIfAlreadyExists returns the existing upload', T, async () => {
  const p = fx['dog.jpg'];
  const md5 = fileMd5(p);
  const existing = await srv.client.uploads.list({ filter: { fields: { md5: { eq: md5 } } } });
  assert.equal(existing.length, 0, 'dog.jpg must not exist yet in this server');

  const first = await srv.client.uploads.createFromLocalFile({ localPath: p, skipCreationIfAlreadyExists: true });
  assert.equal(first.md5, md5);
  const second = await srv.client.uploads.createFromLocalFile({ localPath: p, skipCreationIfAlreadyExists: true });
  assert.equal(second.id, first.id);

  const list = await srv.client.uploads.list({ filter: { fields: { md5: { eq: md5 } } } });
  assert.equal(list.length, 1, `exactly one upload with md5 ${md5}, got ${list.map((u) => u.id)}`);
  assert.equal(list[0].id, first.id);
});
