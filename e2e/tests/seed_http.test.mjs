// Raw HTTP (fetch) reproduction of the DatoCMS documentation's example requests for
// "Update an upload" (https://www.datocms.com/docs/content-management-api/resources/upload/update?language=http),
// plus protocol-level checks (auth, versioning, envelopes, asset delivery).
//
// Documented example (HTTP tab, "Other examples"):
//   PUT https://site-api.datocms.com/uploads/4124 HTTP/1.1
//   Authorization: Bearer YOUR-API-TOKEN
//   Accept: application/json
//   X-Api-Version: 3
//   Content-Type: application/vnd.api+json
//
//   {"data":{"id":"4124","type":"upload","attributes":{"author":"Mark","copyright":"2020 DatoCMS",
//    "default_field_metadata":{"en":{"alt":"Nyan the cat","title":"My cat","custom_data":{}}}}}}
//   → HTTP/1.1 202 Accepted, {"data":{"type":"job","id":"4235"}}; then poll GET /job-results/:id
//     (404 while in progress, then 200 job_result whose payload is {data: upload}).
// The page's prose/JS example also documents renaming (different `basename`) and uploading a new
// version (different `path`, obtained via POST /upload-requests + PUT); those are reproduced too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';

import {
  useServer,
  fixture,
  fileMd5,
  fileSize,
  fileBytes,
  getBytes,
  cma,
  pollJob,
  assertEnvelope,
} from '../harness.mjs';

const T = { timeout: 90000 };
const fx = {};
let uploadId; // created with raw HTTP in the first test
let deliveryUpload; // created with the client, for Range / conditional GET checks

const srv = useServer({}, async ({ client }) => {
  for (const name of ['cat.jpg', 'dog.jpg', 'cat.png']) fx[name] = await fixture(name);
  deliveryUpload = await client.uploads.createFromLocalFile({ localPath: fx['cat.png'] });
});

// Every attribute of spec §2.2.
const UPLOAD_ATTRIBUTES = [
  'size', 'width', 'height', 'path', 'basename', 'filename', 'url', 'format', 'author', 'copyright', 'notes',
  'md5', 'duration', 'frame_rate', 'blurhash', 'thumbhash', 'mux_playback_id', 'mux_mp4_highest_res',
  'default_field_metadata', 'is_image', 'created_at', 'updated_at', 'mime_type', 'tags', 'smart_tags',
  'exif_info', 'colors',
];
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$/;


function assertJsonResponse(r, ctxMsg) {
  const ct = r.headers.get('content-type') ?? '';
  assert.ok(ct.includes('application/json'), `${ctxMsg}: Content-Type must include application/json, got "${ct}"`);
  assert.ok(!ct.includes('vnd.api+json'), `${ctxMsg}: Content-Type must not be application/vnd.api+json ("${ct}")`);
  assert.notEqual(r.body, undefined, `${ctxMsg}: body must be valid JSON, got ${JSON.stringify(r.text.slice(0, 300))}`);
}

function assertRateLimitHeaders(r, ctxMsg) {
  const limit = r.headers.get('x-ratelimit-limit');
  const remaining = r.headers.get('x-ratelimit-remaining');
  assert.match(limit ?? '', /^\d+$/, `${ctxMsg}: X-RateLimit-Limit missing/invalid (${limit})`);
  assert.match(remaining ?? '', /^\d+$/, `${ctxMsg}: X-RateLimit-Remaining missing/invalid (${remaining})`);
}

function assertJsonError(r, status, code, ctxMsg) {
  assert.equal(r.status, status, `${ctxMsg}: expected ${status}, got ${r.status}: ${r.text.slice(0, 600)}`);
  assertJsonResponse(r, ctxMsg);
  assertEnvelope(r.body, code, ctxMsg);
}

/** Expect a 202 job and wait for it; returns the job result's attributes {status, payload}. */
async function expectJob(r, ctxMsg) {
  assert.equal(r.status, 202, `${ctxMsg}: expected 202, got ${r.status}: ${r.text.slice(0, 600)}`);
  assertJsonResponse(r, ctxMsg);
  assertRateLimitHeaders(r, ctxMsg);
  assert.equal(r.body?.data?.type, 'job', `${ctxMsg}: body ${r.text}`);
  const jobId = r.body.data.id;
  assert.equal(typeof jobId, 'string');
  assert.ok(jobId.length > 0);
  const { final, pending } = await pollJob(srv, jobId);
  for (const p of pending) {
    assertJsonError(p, 404, 'NOT_FOUND', `${ctxMsg}: pending job result`);
  }
  assertJsonResponse(final, `${ctxMsg}: job result`);
  const jr = final.body.data;
  assert.equal(jr.type, 'job_result');
  assert.equal(jr.id, jobId, 'job_result id = job id');
  assert.equal(typeof jr.attributes?.status, 'number');
  return jr.attributes;
}

async function rawUploadRequest(filename, localPath, contentType) {
  const body = { data: { type: 'upload_request', attributes: filename === undefined ? {} : { filename } } };
  const r = await cma(srv, 'POST', '/upload-requests', { body });
  assert.equal(r.status, 200, `POST /upload-requests: ${r.status} ${r.text.slice(0, 500)}`);
  assertJsonResponse(r, 'POST /upload-requests');
  const d = r.body.data;
  assert.equal(d.type, 'upload_request');
  assert.equal(typeof d.id, 'string');
  assert.ok(d.id.startsWith('/'), `upload request id is a path: ${d.id}`);
  assert.match(d.attributes.url, /^https?:\/\//, 'absolute PUT url');
  assert.equal(typeof d.attributes.request_headers, 'object');
  if (localPath) {
    const put = await fetch(d.attributes.url, {
      method: 'PUT',
      headers: { ...d.attributes.request_headers, 'Content-Type': contentType },
      body: fs.readFileSync(localPath),
    });
    await put.arrayBuffer();
    assert.equal(put.status, 200, `unauthenticated PUT of the bytes must answer 200, got ${put.status}`);
  }
  return d;
}

test('documented upload flow over raw HTTP: upload request, PUT, POST /uploads (202 job)', T, async () => {
  // "Request a new upload" example without a filename: the server picks one
  const anon = await rawUploadRequest(undefined);
  assert.ok(anon.id.length > 1);

  const req = await rawUploadRequest('cat.jpg', fx['cat.jpg'], 'image/jpeg');
  const r = await cma(srv, 'POST', '/uploads', { body: { data: { type: 'upload', attributes: { path: req.id } } } });
  const job = await expectJob(r, 'POST /uploads');
  assert.equal(job.status, 200, `job status: ${JSON.stringify(job)}`);
  const up = job.payload.data;
  assert.equal(up.type, 'upload');
  assert.equal(up.attributes.path, req.id);
  assert.equal(up.attributes.md5, fileMd5(fx['cat.jpg']));
  uploadId = up.id;
});

test('SEED: documented "Update an upload" HTTP example → 202 job → job_result with the full upload', T, async () => {
  assert.ok(uploadId, 'needs the upload created by the previous test');
  const body = {
    data: {
      id: uploadId,
      type: 'upload',
      attributes: {
        author: 'Mark',
        copyright: '2020 DatoCMS',
        default_field_metadata: { en: { alt: 'Nyan the cat', title: 'My cat', custom_data: {} } },
      },
    },
  };
  const r = await cma(srv, 'PUT', `/uploads/${uploadId}`, { body });
  const job = await expectJob(r, `PUT /uploads/${uploadId}`);
  assert.equal(job.status, 200, `job status: ${JSON.stringify(job)}`);

  const data = job.payload?.data;
  assert.equal(data?.type, 'upload');
  assert.equal(data.id, uploadId);
  const a = data.attributes;
  const missing = UPLOAD_ATTRIBUTES.filter((k) => !Object.prototype.hasOwnProperty.call(a, k));
  assert.deepEqual(missing, [], `attributes missing from the payload: ${missing.join(', ')}`);

  const p = fx['cat.jpg'];
  assert.equal(a.size, fileSize(p));
  assert.equal(a.width, 80);
  assert.equal(a.height, 60);
  assert.equal(typeof a.path, 'string');
  assert.ok(a.path.startsWith('/') && a.path.endsWith('cat.jpg'), `path ${a.path}`);
  assert.equal(a.basename, 'cat');
  assert.equal(a.filename, 'cat.jpg');
  assert.equal(a.url, `${srv.baseUrl}${a.path}`);
  assert.equal(a.format, 'jpg');
  assert.equal(a.author, 'Mark');
  assert.equal(a.copyright, '2020 DatoCMS');
  assert.equal(a.notes, null);
  assert.equal(a.md5, fileMd5(p));
  assert.equal(a.duration, null);
  assert.equal(a.frame_rate, null);
  assert.equal(typeof a.blurhash, 'string');
  assert.ok(a.blurhash.length >= 6);
  assert.match(a.thumbhash ?? '', /^[A-Za-z0-9+/]+={0,2}$/, 'thumbhash is standard base64');
  assert.equal(a.mux_playback_id, null);
  assert.equal(a.mux_mp4_highest_res, null);
  assert.deepEqual(a.default_field_metadata, {
    en: { alt: 'Nyan the cat', title: 'My cat', custom_data: {}, focal_point: null, poster_time: null },
    it: { alt: null, title: null, custom_data: {}, focal_point: null, poster_time: null },
  });
  assert.equal(a.is_image, true);
  assert.match(a.created_at ?? '', ISO_MS);
  assert.match(a.updated_at ?? '', ISO_MS);
  assert.ok(Date.parse(a.updated_at) >= Date.parse(a.created_at));
  assert.equal(a.mime_type, 'image/jpeg');
  assert.deepEqual(a.tags, []);
  assert.ok(Array.isArray(a.smart_tags));
  assert.ok(a.exif_info && typeof a.exif_info === 'object' && !Array.isArray(a.exif_info), 'exif_info is an object');
  assert.ok(Array.isArray(a.colors) && a.colors.length > 0, `colors for an image: ${JSON.stringify(a.colors)}`);
  for (const c of a.colors) {
    assert.deepEqual(Object.keys(c).sort(), ['alpha', 'blue', 'green', 'red']);
    for (const v of Object.values(c)) assert.ok(Number.isInteger(v) && v >= 0 && v <= 255);
  }

  const rel = data.relationships;
  assert.ok(rel && 'upload_collection' in rel && 'creator' in rel, `relationships: ${JSON.stringify(rel)}`);
  assert.deepEqual(rel.upload_collection, { data: null });
  assert.equal(rel.creator.data?.type, 'access_token');
  assert.equal(typeof rel.creator.data.id, 'string');

  // the payload equals what GET /uploads/{id} returns now
  const g = await cma(srv, 'GET', `/uploads/${uploadId}`);
  assert.equal(g.status, 200);
  assertJsonResponse(g, 'GET /uploads/{id}');
  assertRateLimitHeaders(g, 'GET /uploads/{id}');
  assert.deepEqual(g.body.data.attributes, a);
  assert.deepEqual(g.body.data.relationships, rel);
});

test('documented use: rename by PUT with a different basename', T, async () => {
  const before = await cma(srv, 'GET', `/uploads/${uploadId}`);
  const oldUrl = before.body.data.attributes.url;
  const r = await cma(srv, 'PUT', `/uploads/${uploadId}`, {
    body: { data: { id: uploadId, type: 'upload', attributes: { basename: 'digital-cats' } } },
  });
  const job = await expectJob(r, 'PUT basename');
  assert.equal(job.status, 200, JSON.stringify(job));
  const a = job.payload.data.attributes;
  assert.equal(a.basename, 'digital-cats');
  assert.equal(a.filename, 'digital-cats.jpg');
  assert.notEqual(a.url, oldUrl);
  assert.equal(a.author, 'Mark', 'other attributes kept');
  const neu = await getBytes(a.url);
  assert.equal(neu.status, 200);
  assert.ok(neu.buf.equals(fileBytes(fx['cat.jpg'])));
  const old = await getBytes(oldUrl);
  assert.equal(old.status, 301);
});

test('documented use: new version by PUT with a different path', T, async () => {
  const before = await cma(srv, 'GET', `/uploads/${uploadId}`);
  const oldUrl = before.body.data.attributes.url;
  const req = await rawUploadRequest('dog.jpg', fx['dog.jpg'], 'image/jpeg');
  const r = await cma(srv, 'PUT', `/uploads/${uploadId}`, {
    body: { data: { id: uploadId, type: 'upload', attributes: { path: req.id } } },
  });
  const job = await expectJob(r, 'PUT path');
  assert.equal(job.status, 200, JSON.stringify(job));
  const a = job.payload.data.attributes;
  assert.equal(job.payload.data.id, uploadId);
  assert.equal(a.md5, fileMd5(fx['dog.jpg']));
  assert.equal(a.width, 40);
  assert.equal(a.height, 30);
  assert.equal(a.author, 'Mark', 'metadata kept');
  assert.equal(a.default_field_metadata.en.alt, 'Nyan the cat', 'metadata kept');
  assert.notEqual(a.url, oldUrl);
  assert.equal((await getBytes(oldUrl)).status, 404);
  const neu = await getBytes(a.url);
  assert.equal(neu.status, 200);
  assert.ok(neu.buf.equals(fileBytes(fx['dog.jpg'])));
});

test('job results: unknown job id answers 404 with a JSON NOT_FOUND envelope', T, async () => {
  const r = await cma(srv, 'GET', '/job-results/no-such-job-123');
  assertJsonError(r, 404, 'NOT_FOUND', 'GET /job-results/unknown');
});

test('missing X-Api-Version → 422 error envelope', T, async () => {
  const r = await cma(srv, 'GET', '/uploads', { omit: ['X-Api-Version'] });
  assertJsonError(r, 422, undefined, 'no X-Api-Version');
  const r2 = await cma(srv, 'GET', '/uploads', { headers: { 'X-Api-Version': '2' } });
  assertJsonError(r2, 422, undefined, 'X-Api-Version: 2');
});

test('no Authorization → 401 INVALID_SITE', T, async () => {
  const r = await cma(srv, 'GET', '/uploads', { omit: ['Authorization'] });
  assertJsonError(r, 401, 'INVALID_SITE', 'no Authorization');
});

test('wrong token → 401 INVALID_AUTHORIZATION_HEADER', T, async () => {
  const r = await cma(srv, 'GET', '/uploads', { token: 'not-the-token' });
  assertJsonError(r, 401, 'INVALID_AUTHORIZATION_HEADER', 'wrong token');
});

test('unknown route → 404 INVALID_ENDPOINT', T, async () => {
  const r = await cma(srv, 'GET', '/no-such-endpoint');
  assertJsonError(r, 404, 'INVALID_ENDPOINT', 'GET /no-such-endpoint');
});

test('unknown method on a known path → 404 INVALID_ENDPOINT', T, async () => {
  const r = await cma(srv, 'PATCH', `/uploads/${uploadId}`, { body: { data: { type: 'upload', id: uploadId } } });
  assertJsonError(r, 404, 'INVALID_ENDPOINT', 'PATCH /uploads/{id}');
});

test('malformed JSON body → 4xx error envelope', T, async () => {
  const r = await cma(srv, 'PUT', `/uploads/${uploadId}`, { body: '{"data": {"type": "upload", ' });
  assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status}: ${r.text.slice(0, 300)}`);
  assertJsonResponse(r, 'malformed JSON');
  assertEnvelope(r.body, undefined, 'malformed JSON');
});

test('data.type "item" on PUT /uploads/{id} → 422 INVALID_TYPE', T, async () => {
  const before = await cma(srv, 'GET', `/uploads/${uploadId}`);
  const r = await cma(srv, 'PUT', `/uploads/${uploadId}`, {
    body: { data: { id: uploadId, type: 'item', attributes: { author: 'nope' } } },
  });
  if (r.status === 202) {
    // tolerated by the client, but the job must then fail with 422 INVALID_TYPE
    const job = await expectJob(r, 'PUT type=item');
    assert.equal(job.status, 422);
    assertEnvelope(job.payload, 'INVALID_TYPE', 'job payload');
  } else {
    assertJsonError(r, 422, 'INVALID_TYPE', 'PUT type=item');
  }
  const afterwards = await cma(srv, 'GET', `/uploads/${uploadId}`);
  assert.deepEqual(afterwards.body, before.body, 'nothing changed');
});

test('X-Environment: nope → INVALID_ENVIRONMENT', T, async () => {
  const r = await cma(srv, 'GET', '/uploads', { headers: { 'X-Environment': 'nope' } });
  assert.ok(r.status >= 400 && r.status < 500, `expected 4xx, got ${r.status}: ${r.text.slice(0, 300)}`);
  assertJsonResponse(r, 'X-Environment: nope');
  assertEnvelope(r.body, 'INVALID_ENVIRONMENT', 'X-Environment: nope');
});

test('asset url: Range bytes=0-9 → 206 with 10 bytes and Content-Range', T, async () => {
  const p = fx['cat.png'];
  const full = fileBytes(p);
  const r = await getBytes(deliveryUpload.url, { headers: { Range: 'bytes=0-9' } });
  assert.equal(r.status, 206);
  assert.equal(r.buf.length, 10);
  assert.ok(r.buf.equals(full.subarray(0, 10)));
  assert.equal(r.headers.get('content-range'), `bytes 0-9/${full.length}`);
});

test('asset url: If-None-Match with the ETag → 304', T, async () => {
  const first = await getBytes(deliveryUpload.url);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get('x-content-type-options'), 'nosniff');
  const etag = first.headers.get('etag');
  assert.ok(etag && /^"[^"]+"$/.test(etag), `strong ETag expected, got ${etag}`);
  const r = await getBytes(deliveryUpload.url, { headers: { 'If-None-Match': etag } });
  assert.equal(r.status, 304);
  assert.equal(r.buf.length, 0);
  const other = await getBytes(deliveryUpload.url, { headers: { 'If-None-Match': '"something-else"' } });
  assert.equal(other.status, 200);
});
