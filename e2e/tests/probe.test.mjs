// The hostile-input probe: about ten classes of hostile requests against the real binary, each
// class a test that starts from the seeded state (a JPEG, a PNG and an SVG with tags, in a
// collection), snapshots it, and checks that nothing changed afterwards (class 8 creates
// uploads on purpose: there the other uploads must stay as they were). Every answer is held to
// the global rules of probe.mjs: never a 5xx (but a 503 with Retry-After under transform load),
// never a dropped connection where an answer is due, the CMA error envelope on CMA routes.
// Expected statuses come from README.md ("Hardening", "API notes", "Image delivery") and the
// spec (../shared/spec/uploads-api.md). PROBE_REPORT=<file> writes the probe table
// (RELIABILITY.md's "Probe" section).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
  assetdTokens,
  createToken as createTokenOn,
  useServer,
  startServer,
  fixture,
  pngBytes,
  pngFromPixels,
  writeFileIn,
  putViaUploadRequest,
} from '../harness.mjs';
import { Probe, snapshot, compareSnapshot } from '../probe.mjs';

const T = { timeout: 60000 };
const SECRET = 'probe-transform-secret';
const MAX_UPLOAD = 1024 * 1024;
const URL_TTL = 4;
const S3 = !!process.env.ASSETD_TEST_STORAGE_URL;
const BACKEND = `${process.env.ASSETD_TEST_DATABASE_URL ? 'PostgreSQL' : 'SQLite'} + ${S3 ? 'S3 (s3s-fs)' : 'local disk'}`;
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-probe-'));

const seed = {};
const srv = useServer(
  {
    env: {
      ASSETD_RATE_LIMIT: '0',
      ASSETD_PUBLIC_RATE_LIMIT: '0',
      ASSETD_MAX_UPLOAD_SIZE: String(MAX_UPLOAD),
      ASSETD_UPLOAD_URL_TTL: String(URL_TTL),
      ASSETD_TRANSFORM_SECRET: SECRET,
      ASSETD_TRANSFORM_PRESETS: 'thumb:w=32&h=32&fit=crop',
    },
  },
  async (ctx) => {
    const { client } = ctx;
    seed.collection = await client.uploadCollections.create({ label: 'probe' });
    const coll = { type: 'upload_collection', id: seed.collection.id };
    const make = async (name, mime, tags) => {
      const req = await putViaUploadRequest(client, await fixture(name), name, mime);
      const upload = await client.uploads.create({ path: req.id, tags, notes: `seed ${name}`, upload_collection: coll });
      return { req, upload };
    };
    seed.jpeg = await make('cat.jpg', 'image/jpeg', ['probe', 'jpeg']);
    seed.png = await make('cat.png', 'image/png', ['probe', 'png']);
    seed.svg = await make('drawing.svg', 'image/svg+xml', ['probe', 'svg']);
  },
);
const probe = new Probe(srv, { backend: BACKEND });
after(() => {
  probe.writeReport();
  fs.rmSync(TMP, { recursive: true, force: true });
});

const idOf = (k) => seed[k].upload.id;
const assetPath = (k) => new URL(seed[k].upload.url).pathname;
/** A transform URL signed as README "Signed transform URLs" says. */
function signed(url, query) {
  const u = new URL(url);
  const s = createHmac('sha256', SECRET).update(`${u.pathname}?${query}`).digest('hex');
  return `${u.origin}${u.pathname}?${query}&s=${s}`;
}
const updateBody = (id, attributes, extra = {}) => ({ data: { type: 'upload', id, attributes, ...extra } });
/** Raw request bytes: a request line, headers (array of [k, v]), body; `Connection: close` unless keepAlive. */
function rawReq(method, target, headers = [], body = '', { keepAlive = false } = {}) {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...(keepAlive ? [] : ['Connection: close']), ...headers.map(([k, v]) => `${k}: ${v}`)];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body)]);
}
const authHeaders = (token) => [['Authorization', `Bearer ${token}`], ['Accept', 'application/json'], ['X-Api-Version', '3']];
function chunked(buf, size = 65536) {
  const parts = [];
  for (let i = 0; i < buf.length; i += size) {
    const c = buf.subarray(i, i + size);
    parts.push(Buffer.concat([Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n')]));
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return parts;
}

// ---------------------------------------------------------------------------
test('1. credentials and headers', T, async () => {
  const C = '1. Credentials & headers';
  await probe.unchanged(C, async () => {
    const jid = idOf('jpeg');
    const write = updateBody(jid, { notes: 'changed by a bad credential' });
    const auth401 = [
      ['no Authorization', { omit: ['Authorization'] }, 'INVALID_SITE'],
      ['empty Authorization', { headers: { Authorization: '' } }, ['INVALID_SITE', 'INVALID_AUTHORIZATION_HEADER']],
      ['"Bearer " with no token', { headers: { Authorization: 'Bearer ' } }, ['INVALID_SITE', 'INVALID_AUTHORIZATION_HEADER']],
      ['garbage token', { token: 'garbage' }, 'INVALID_AUTHORIZATION_HEADER'],
      ['the secret without "Bearer "', { headers: { Authorization: srv.token } }, 'INVALID_AUTHORIZATION_HEADER'],
      ['scheme Token', { headers: { Authorization: `Token ${srv.token}` } }, 'INVALID_AUTHORIZATION_HEADER'],
      ['scheme Basic', { headers: { Authorization: `Basic ${Buffer.from(`x:${srv.token}`).toString('base64')}` } }, 'INVALID_AUTHORIZATION_HEADER'],
      ['token with a trailing character', { token: `${srv.token}x` }, 'INVALID_AUTHORIZATION_HEADER'],
      ['token with a trailing word', { token: `${srv.token} extra` }, 'INVALID_AUTHORIZATION_HEADER'],
      ['token truncated', { token: srv.token.slice(0, -1) }, 'INVALID_AUTHORIZATION_HEADER'],
      ['"Bearer null" (the client with a null token)', { token: 'null' }, 'INVALID_AUTHORIZATION_HEADER'],
    ];
    for (const [what, opts, code] of auth401) {
      await probe.case(C, `GET /uploads, ${what} → 401`, async (c) => c.expect(await c.cma('GET', '/uploads', opts), 401, code));
      await probe.case(C, `PUT /uploads/{id}, ${what} → 401`, async (c) =>
        c.expect(await c.cma('PUT', `/uploads/${jid}`, { body: write, ...opts }), 401, code),
      );
    }
    await probe.case(C, 'DELETE /uploads/{id} without Authorization → 401', async (c) =>
      c.expect(await c.cma('DELETE', `/uploads/${jid}`, { omit: ['Authorization'] }), 401, 'INVALID_SITE'),
    );
    await probe.case(C, 'POST /uploads/bulk/destroy with a bare secret → 401', async (c) =>
      c.expect(
        await c.cma('POST', '/uploads/bulk/destroy', {
          headers: { Authorization: srv.token },
          body: { data: { type: 'upload_bulk_destroy_operation', relationships: { uploads: { data: [{ type: 'upload', id: jid }] } } } },
        }),
        401,
        'INVALID_AUTHORIZATION_HEADER',
      ),
    );
    await probe.case(C, 'Authorization with non-ASCII bytes (raw) → 401', async (c) => {
      const x = await c.raw([
        rawReq('GET', '/uploads', [['Authorization', 'Bearer \xff\xfe\xfd'], ['Accept', 'application/json'], ['X-Api-Version', '3']]),
      ]);
      c.expect(x.answers[0], 401, ['INVALID_SITE', 'INVALID_AUTHORIZATION_HEADER']);
    });
    await probe.case(C, 'scheme in upper case ("BEARER <secret>") is accepted (RFC 9110) → 200', async (c) =>
      c.expect(await c.cma('GET', '/uploads', { headers: { Authorization: `BEARER ${srv.token}` } }), 200),
    );
    // Head size: 64 KiB cap (README "Bodies and connections").
    await probe.case(C, 'a 70 KiB header (fetch) → 431', async (c) =>
      c.expect(await c.cma('GET', '/uploads', { headers: { 'X-Pad': 'a'.repeat(70 * 1024) } }), 431),
    );
    await probe.case(C, 'a 70 KiB Authorization on a PUT → 431', async (c) =>
      c.expect(await c.cma('PUT', `/uploads/${jid}`, { body: write, token: 'a'.repeat(70 * 1024) }), 431),
    );
    await probe.case(C, '100 headers of 700 B (raw, 70 KiB head) → 431', async (c) => {
      const hs = Array.from({ length: 100 }, (_, i) => [`X-Pad-${i}`, 'b'.repeat(700)]);
      const x = await c.raw([rawReq('GET', '/uploads', [...authHeaders(srv.token), ...hs])], { envelope: false });
      c.expect(x.answers[0], 431);
    });
    await probe.case(C, 'a 60 KiB head is under the cap → 200', async (c) =>
      c.expect(await c.cma('GET', '/uploads?page[limit]=1', { headers: { 'X-Pad': 'a'.repeat(60 * 1024) } }), 200),
    );
    await probe.case(C, 'a 70 KiB request target → 414 (README)', async (c) =>
      c.expect(await c.cma('GET', `/uploads?filter[query]=${'q'.repeat(70 * 1024)}`), 414),
    );
    // X-Api-Version: missing or not 3 → 422 INVALID_API_VERSION.
    for (const [what, opts] of [
      ['missing', { omit: ['X-Api-Version'] }],
      ['2', { headers: { 'X-Api-Version': '2' } }],
      ['"3.0"', { headers: { 'X-Api-Version': '3.0' } }],
      ['empty', { headers: { 'X-Api-Version': '' } }],
      ['"33"', { headers: { 'X-Api-Version': '33' } }],
      ['"three"', { headers: { 'X-Api-Version': 'three' } }],
    ]) {
      await probe.case(C, `X-Api-Version ${what} → 422 INVALID_API_VERSION`, async (c) =>
        c.expect(await c.cma('GET', '/uploads', opts), 422, 'INVALID_API_VERSION'),
      );
    }
    await probe.case(C, 'X-Api-Version 2 on a PUT → 422, nothing changes', async (c) =>
      c.expect(await c.cma('PUT', `/uploads/${jid}`, { body: write, headers: { 'X-Api-Version': '2' } }), 422, 'INVALID_API_VERSION'),
    );
    // Accept: missing or unsupported → 406; application/json, vnd.api+json and */* are accepted.
    await probe.case(C, 'Accept missing (raw: fetch always adds */*) → 406 INVALID_ACCEPT_HEADER', async (c) => {
      const x = await c.raw([rawReq('GET', '/uploads', [['Authorization', `Bearer ${srv.token}`], ['X-Api-Version', '3']])]);
      c.expect(x.answers[0], 406, 'INVALID_ACCEPT_HEADER');
    });
    for (const [what, opts] of [
      ['text/html', { headers: { Accept: 'text/html' } }],
      ['application/xml', { headers: { Accept: 'application/xml' } }],
      ['image/png', { headers: { Accept: 'image/png' } }],
    ]) {
      await probe.case(C, `Accept ${what} → 406 INVALID_ACCEPT_HEADER`, async (c) =>
        c.expect(await c.cma('GET', '/uploads', opts), 406, 'INVALID_ACCEPT_HEADER'),
      );
    }
    for (const accept of ['application/vnd.api+json', '*/*']) {
      await probe.case(C, `Accept ${accept} is accepted (spec §1.2) → 200`, async (c) =>
        c.expect(await c.cma('GET', '/uploads?page[limit]=1', { headers: { Accept: accept } }), 200),
      );
    }
    // Content-Type of a body: application/json or vnd.api+json, else 415.
    for (const ct of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx']) {
      await probe.case(C, `PUT body as ${ct} → 415 INVALID_CONTENT_TYPE_HEADER`, async (c) =>
        c.expect(await c.cma('PUT', `/uploads/${jid}`, { body: write, headers: { 'Content-Type': ct } }), 415, 'INVALID_CONTENT_TYPE_HEADER'),
      );
    }
    for (const env of ['sandbox', '../main', 'main\u0000']) {
      await probe.case(C, `X-Environment ${JSON.stringify(env)} → 404 INVALID_ENVIRONMENT`, async (c) =>
        c.expect(await c.cma('GET', '/uploads', { headers: { 'X-Environment': encodeURI(env) } }), 404, 'INVALID_ENVIRONMENT'),
      );
    }
    await probe.case(C, 'PATCH /uploads/{id} (no such method) → 404 INVALID_ENDPOINT', async (c) =>
      c.expect(await c.cma('PATCH', `/uploads/${jid}`, { body: write }), 404, 'INVALID_ENDPOINT'),
    );
    await probe.case(C, 'GET /uploadz (no such route) → 404 INVALID_ENDPOINT', async (c) =>
      c.expect(await c.cma('GET', '/uploadz'), 404, 'INVALID_ENDPOINT'),
    );
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
const tokens = (args) => assetdTokens(srv, args);
const createToken = (name, role) => createTokenOn(srv, name, role);

test('2. roles', T, async () => {
  const C = '2. Roles';
  const reader = createToken('probe-reader', 'read-only');
  const bot = createToken('probe-bot', 'upload-only');
  const revoked = createToken('probe-revoked', 'full-access');
  tokens(['revoke', revoked.id]);
  await probe.unchanged(C, async () => {
    const jid = idOf('jpeg');
    const pid = idOf('png');
    const coll = seed.collection.id;
    const uploads = { data: [{ type: 'upload', id: jid }, { type: 'upload', id: pid }] };
    // README "Tokens and roles": a request the role does not allow answers 403 INSUFFICIENT_PERMISSIONS, before anything runs.
    const writes = [
      ['PUT /uploads/{id} (notes)', 'PUT', `/uploads/${jid}`, updateBody(jid, { notes: 'role' })],
      ['PUT /uploads/{id} (new version path)', 'PUT', `/uploads/${jid}`, updateBody(jid, { path: seed.png.req.id })],
      ['PUT /uploads/{id} with a malformed body', 'PUT', `/uploads/${jid}`, '{"data":'],
      ['DELETE /uploads/{id}', 'DELETE', `/uploads/${jid}`, undefined],
      ['POST /uploads/bulk/tag', 'POST', '/uploads/bulk/tag', { data: { type: 'upload_bulk_tag_operation', attributes: { tags: ['x'] }, relationships: { uploads } } }],
      ['POST /uploads/bulk/destroy', 'POST', '/uploads/bulk/destroy', { data: { type: 'upload_bulk_destroy_operation', relationships: { uploads } } }],
      ['POST /uploads/bulk/set-upload-collection', 'POST', '/uploads/bulk/set-upload-collection', { data: { type: 'upload_bulk_set_upload_collection_operation', relationships: { upload_collection: { data: null }, uploads } } }],
      ['POST /upload-collections', 'POST', '/upload-collections', { data: { type: 'upload_collection', attributes: { label: 'x' } } }],
      ['PUT /upload-collections/{id}', 'PUT', `/upload-collections/${coll}`, { data: { type: 'upload_collection', id: coll, attributes: { label: 'renamed' } } }],
      ['DELETE /upload-collections/{id}', 'DELETE', `/upload-collections/${coll}`, undefined],
      ['POST /upload-tags', 'POST', '/upload-tags', { data: { type: 'upload_tag', attributes: { name: 'role-tag' } } }],
      ['POST /upload-filters', 'POST', '/upload-filters', { data: { type: 'upload_filter', attributes: { name: 'f', filter: {} } } }],
      ['GET /webhooks (full-access only)', 'GET', '/webhooks', undefined],
      ['POST /webhooks', 'POST', '/webhooks', { data: { type: 'webhook', attributes: { name: 'w', url: 'http://127.0.0.1:1/', headers: {}, events: [] } } }],
    ];
    for (const [who, tok] of [['read-only', reader], ['upload-only', bot]]) {
      for (const [what, method, p, body] of writes) {
        await probe.case(C, `${who}: ${what} → 403`, async (c) => {
          const a = await c.cma(method, p, { token: tok.secret, body });
          c.expect(a, 403, 'INSUFFICIENT_PERMISSIONS');
          assert.ok(a.body.data[0].attributes.details.role, `details.role missing: ${a.text}`);
        });
      }
    }
    for (const [what, method, p, body] of [
      ['POST /upload-requests', 'POST', '/upload-requests', { data: { type: 'upload_request', attributes: { filename: 'x.png' } } }],
      ['POST /uploads', 'POST', '/uploads', { data: { type: 'upload', attributes: { path: seed.png.req.id } } }],
    ]) {
      await probe.case(C, `read-only: ${what} → 403`, async (c) =>
        c.expect(await c.cma(method, p, { token: reader.secret, body }), 403, 'INSUFFICIENT_PERMISSIONS'),
      );
    }
    for (const [who, tok] of [['read-only', reader], ['upload-only', bot]]) {
      await probe.case(C, `${who}: GET /uploads is allowed → 200`, async (c) =>
        c.expect(await c.cma('GET', '/uploads?page[limit]=1', { token: tok.secret }), 200),
      );
    }
    await probe.case(C, 'a revoked (never seen) token: PUT → 401', async (c) =>
      c.expect(await c.cma('PUT', `/uploads/${jid}`, { token: revoked.secret, body: updateBody(jid, { notes: 'x' }) }), 401, 'INVALID_AUTHORIZATION_HEADER'),
    );
    await probe.case(C, 'a revoked token: DELETE → 401', async (c) =>
      c.expect(await c.cma('DELETE', `/uploads/${jid}`, { token: revoked.secret }), 401, 'INVALID_AUTHORIZATION_HEADER'),
    );
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('3. JSON bodies', { timeout: 90000 }, async () => {
  const C = '3. JSON bodies';
  await probe.unchanged(C, async () => {
    const jid = idOf('jpeg');
    const sid = idOf('svg');
    const put = (c, body, id = jid) => c.cma('PUT', `/uploads/${id}`, { body });
    const bad400 = [
      ['truncated JSON', '{"data":'],
      ['empty body', ''],
      ['trailing garbage', `${JSON.stringify(updateBody(jid, { notes: 'x' }))}xyz`],
      ['single quotes', "{'data':{}}"],
      ['a lone UTF-16 surrogate escape... as raw bytes', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
      ['nested 5000 levels deep', `${'['.repeat(5000)}${']'.repeat(5000)}`],
    ];
    for (const [what, body] of bad400) {
      await probe.case(C, `PUT /uploads/{id}: ${what} → 400 INVALID_JSON_BODY`, async (c) =>
        c.expect(await c.cma('PUT', `/uploads/${jid}`, { rawBody: body }), 400, 'INVALID_JSON_BODY'),
      );
    }
    const deepMeta = JSON.parse(JSON.stringify(updateBody(jid, {})));
    deepMeta.data.attributes.default_field_metadata = { en: { custom_data: 'X' } };
    const deep = JSON.stringify(deepMeta).replace('"X"', `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`);
    await probe.case(C, 'custom_data nested 3000 objects deep → 400/422', async (c) =>
      c.expect(await c.cma('PUT', `/uploads/${jid}`, { rawBody: deep }), [400, 422]),
    );
    const shape422 = [
      ['body null', null],
      ['body an array', []],
      ['body a string', 'str'],
      ['body a number', 42],
      ['data missing', { meta: {} }],
      ['data null', { data: null }],
      ['data an array', { data: [updateBody(jid, {}).data] }],
      ['data without type', { data: { id: jid, attributes: { notes: 'x' } } }],
      ['attributes an array', { data: { type: 'upload', id: jid, attributes: ['notes'] } }],
      ['attributes a string', { data: { type: 'upload', id: jid, attributes: 'notes' } }],
      ['relationships a string', updateBody(jid, { notes: 'x' }, { relationships: 'x' })],
    ];
    for (const [what, body] of shape422) {
      await probe.case(C, `PUT /uploads/{id}: ${what} → 422`, async (c) => c.expect(await put(c, JSON.stringify(body)), 422));
    }
    for (const [what, type] of [['"item"', 'item'], ['"uploads"', 'uploads'], ['"Upload"', 'Upload'], ['a number', 7], ['a 100 KB string', 'u'.repeat(100000)]]) {
      await probe.case(C, `data.type ${what} → 422 INVALID_TYPE`, async (c) =>
        c.expect(await put(c, { data: { type, id: jid, attributes: { notes: 'x' } } }), 422, 'INVALID_TYPE'),
      );
    }
    await probe.case(C, 'data.id of another upload → 422', async (c) => c.expect(await put(c, updateBody(idOf('png'), { notes: 'x' })), 422));
    await probe.case(C, 'data.id of 1 MB → 422', async (c) => c.expect(await put(c, updateBody('i'.repeat(1 << 20), { notes: 'x' })), 422));
    for (const attr of [{ foo: 1 }, { md5: 'x' }, { size: 1 }, { url: 'http://evil/' }, { is_image: false }, { ['k'.repeat(500000)]: 1 }]) {
      const name = Object.keys(attr)[0];
      await probe.case(C, `attribute ${name.length > 20 ? `of ${name.length} chars` : name} → 422 INVALID_ATTRIBUTES`, async (c) => {
        const a = c.expect(await put(c, updateBody(jid, { notes: 'x', ...attr })), 422, 'INVALID_ATTRIBUTES');
        assert.ok(a.body.data[0].attributes.details.extraneous_attributes?.includes(name), `extraneous_attributes: ${a.text.slice(0, 300)}`);
      });
    }
    const wrongTypes = [
      ['notes a number', { notes: 42 }],
      ['author an object', { author: {} }],
      ['copyright an array', { copyright: ['x'] }],
      ['tags a string', { tags: 'x' }],
      ['tags of numbers', { tags: [1, 2] }],
      ['tags null inside', { tags: [null] }],
      ['basename a number', { basename: 5 }],
      ['basename empty', { basename: '' }],
      ['basename with traversal', { basename: '../../etc/passwd' }],
      ['basename with a slash', { basename: 'a/b' }],
      ['basename with unicode', { basename: 'café' }],
      ['basename of 101 chars', { basename: 'b'.repeat(101) }],
      ['basename of 1 MB', { basename: 'b'.repeat(1 << 20) }],
      ['path a number', { path: 12 }],
      ['path with traversal', { path: '/1/../../etc/passwd' }],
      ['path of another project', { path: '/999/1700000000-cat.png' }],
      ['default_field_metadata a string', { default_field_metadata: 'x' }],
      ['default_field_metadata an array', { default_field_metadata: [] }],
    ];
    for (const [what, attrs] of wrongTypes) {
      await probe.case(C, `${what} → 422`, async (c) => c.expect(await put(c, updateBody(jid, attrs)), 422));
    }
    // NUL characters are refused before any field is looked at (README, "Bodies and connections").
    for (const [what, attrs] of [['basename with a NUL', { basename: 'a\u0000b' }], ['notes with a NUL', { notes: 'a\u0000b' }]]) {
      await probe.case(C, `${what} → 400 INVALID_JSON_BODY`, async (c) =>
        c.expect(await put(c, updateBody(jid, attrs)), 400, 'INVALID_JSON_BODY'),
      );
    }
    const meta = [
      ['locale xx (locale-keyed)', { xx: { alt: 'x' } }],
      ['locale en-US', { 'en-US': { alt: 'x' } }],
      ['locale "../en"', { '../en': { alt: 'x' } }],
      ['field-keyed with locale fr', { alt: { fr: 'x' } }],
      ['both shapes mixed', { en: { alt: 'x' }, title: { en: 'y' } }],
      ['alt a number', { en: { alt: 5 } }],
      ['focal point x = 2', { en: { focal_point: { x: 2, y: 0.5 } } }],
      ['focal point y = -0.1', { en: { focal_point: { x: 0.5, y: -0.1 } } }],
      ['focal point x a string', { en: { focal_point: { x: '0.5', y: 0.5 } } }],
      ['focal point without y', { en: { focal_point: { x: 0.5 } } }],
      ['focal point an array', { en: { focal_point: [0.5, 0.5] } }],
      ['focal point x = 1e308*10 (out of range number)', null],
      ['different focal points per locale', { en: { focal_point: { x: 0.1, y: 0.1 } }, it: { focal_point: { x: 0.9, y: 0.9 } } }],
      ['poster_time on an image', { en: { poster_time: 3 } }],
      ['custom_data a string', { en: { custom_data: 'x' } }],
    ];
    for (const [what, dfm] of meta) {
      await probe.case(C, `default_field_metadata: ${what} → ${dfm ? '422' : '400/422'}`, async (c) => {
        if (!dfm) {
          const raw = JSON.stringify(updateBody(jid, { default_field_metadata: { en: { focal_point: { x: 'X', y: 0.5 } } } })).replace('"X"', '1e309');
          return c.expect(await c.cma('PUT', `/uploads/${jid}`, { rawBody: raw }), [400, 422]);
        }
        return c.expect(await put(c, updateBody(jid, { default_field_metadata: dfm })), 422);
      });
    }
    await probe.case(C, 'focal point on the SVG with x = NaN-like string → 422', async (c) =>
      c.expect(await put(c, updateBody(sid, { default_field_metadata: { en: { focal_point: { x: 'NaN', y: 'NaN' } } } }), sid), 422),
    );
    for (const [what, rel] of [
      ['upload_collection of an unknown id', { upload_collection: { data: { type: 'upload_collection', id: 'AAAAAAAAAAAAAAAAAAAAAA' } } }],
      ['upload_collection of the wrong type', { upload_collection: { data: { type: 'upload', id: seed.collection.id } } }],
      ['creator an account', { creator: { data: { type: 'account', id: '1' } } }],
      ['creator an unknown access token', { creator: { data: { type: 'access_token', id: '999999' } } }],
      ['unknown relationship', { owner: { data: null } }],
    ]) {
      await probe.case(C, `relationship: ${what} → 422`, async (c) => c.expect(await put(c, updateBody(jid, {}, { relationships: rel })), 422));
    }
    // Other writing endpoints with hostile bodies.
    for (const [what, p, body, code] of [
      ['POST /uploads without path', '/uploads', { data: { type: 'upload', attributes: { notes: 'x' } } }, null],
      ['POST /uploads with a malformed id', '/uploads', { data: { type: 'upload', id: '../x', attributes: { path: seed.png.req.id } } }, 'INVALID_ENTITY_ID'],
      ['POST /uploads with the id of an existing upload', '/uploads', { data: { type: 'upload', id: jid, attributes: { path: seed.png.req.id } } }, 'INVALID_FIELD'],
      ['POST /uploads/bulk/tag with no uploads', '/uploads/bulk/tag', { data: { type: 'upload_bulk_tag_operation', attributes: { tags: ['x'] }, relationships: { uploads: { data: [] } } } }, 'MISSING_UPLOAD_IDS'],
      ['POST /uploads/bulk/destroy with no uploads', '/uploads/bulk/destroy', { data: { type: 'upload_bulk_destroy_operation', relationships: { uploads: { data: [] } } } }, 'MISSING_UPLOAD_IDS'],
      ['POST /uploads/bulk/destroy with 1001 distinct (unknown) uploads', '/uploads/bulk/destroy', { data: { type: 'upload_bulk_destroy_operation', relationships: { uploads: { data: Array.from({ length: 1001 }, (_, i) => ({ type: 'upload', id: `A${String(i).padStart(21, '0')}` })) } } } }, null],
      ['POST /uploads/bulk/tag with tags a string', '/uploads/bulk/tag', { data: { type: 'upload_bulk_tag_operation', attributes: { tags: 'x' }, relationships: { uploads: { data: [{ type: 'upload', id: jid }] } } } }, null],
      ['POST /upload-collections with label a number', '/upload-collections', { data: { type: 'upload_collection', attributes: { label: 5 } } }, null],
      ['POST /upload-collections with a wrong type', '/upload-collections', { data: { type: 'upload', attributes: { label: 'x' } } }, 'INVALID_TYPE'],
      ['POST /upload-tags with a wrong type', '/upload-tags', { data: { type: 'upload', attributes: { name: 'x' } } }, 'INVALID_TYPE'],
      ['POST /upload-collections/reorder with duplicate positions', '/upload-collections/reorder', { data: [{ type: 'upload_collection', id: seed.collection.id, attributes: { position: 1 }, relationships: { parent: { data: null } } }, { type: 'upload_collection', id: seed.collection.id, attributes: { position: 1 }, relationships: { parent: { data: null } } }] }, null],
    ]) {
      await probe.case(C, `${what} → 422`, async (c) => c.expect(await c.cma('POST', p, { body }), 422, code ?? undefined));
    }
    // A 3 MB JSON body, 20 times with Node's fetch: README "Bodies and connections" says every one
    // gets 413 REQUEST_ENTITY_TOO_LARGE (the unread rest is drained), no broken pipe.
    const big = JSON.stringify(updateBody(jid, { notes: 'n'.repeat(3 * 1000 * 1000) }));
    for (let i = 0; i < 20; i++) {
      await probe.case(C, `3 MB body via fetch #${i + 1} → 413`, async (c) =>
        c.expect(await c.cma('PUT', `/uploads/${jid}`, { rawBody: big }), 413, 'REQUEST_ENTITY_TOO_LARGE'),
      );
    }
    await probe.case(C, '3 MB chunked body (raw) → 413 with the envelope', async (c) => {
      const head = rawReq('PUT', `/uploads/${jid}`, [...authHeaders(srv.token), ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']]);
      const x = await c.raw([head, ...chunked(Buffer.from(big))], { timeoutMs: 15000 });
      c.expect(x.answers[0], 413, 'REQUEST_ENTITY_TOO_LARGE');
      assert.equal(x.answers.length, 1);
    });
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('4. ids and paths', T, async () => {
  const C = '4. Ids & paths';
  await probe.unchanged(C, async () => {
    const ids = [
      ['a well-formed unknown id', 'AAAAAAAAAAAAAAAAAAAAAA'],
      ['a legacy numeric id', '123'],
      ['..%2f..%2fetc%2fpasswd', '..%2f..%2fetc%2fpasswd'],
      ['%2e%2e%2f', '%2e%2e%2fuploads'],
      ['a 10 KB id', 'x'.repeat(10000)],
      ['unicode (percent-encoded)', encodeURIComponent('ñ🙂')],
      ["SQL: ' OR 1=1 --", encodeURIComponent("' OR 1=1 --")],
      ['SQL: 1;DROP TABLE uploads', encodeURIComponent('1;DROP TABLE uploads')],
      ['a NUL byte (400 INVALID_REQUEST, README)', 'a%00b'],
      ['%ff (invalid UTF-8: the path does not decode, 400 allowed)', '%ff%fe'],
      ['a glob', '*'],
    ];
    for (const [what, id] of ids) {
      const ok = id === '%ff%fe' ? [400, 404, 422] : id === 'a%00b' ? [400] : [404, 422];
      await probe.case(C, `GET /uploads/{${what}} → 404/422`, async (c) => c.expect(await c.cma('GET', `/uploads/${id}`), ok));
      await probe.case(C, `DELETE /uploads/{${what}} → 404/422`, async (c) => c.expect(await c.cma('DELETE', `/uploads/${id}`), ok));
    }
    for (const [what, id] of ids.slice(0, 8)) {
      await probe.case(C, `PUT /uploads/{${what}} → 404/422`, async (c) =>
        c.expect(await c.cma('PUT', `/uploads/${id}`, { body: updateBody(id, { notes: 'x' }) }), [404, 422]),
      );
    }
    await probe.case(C, 'PUT /uploads/{unknown id} with a matching body → 404 NOT_FOUND', async (c) =>
      c.expect(await c.cma('PUT', '/uploads/AAAAAAAAAAAAAAAAAAAAAA', { body: updateBody('AAAAAAAAAAAAAAAAAAAAAA', { notes: 'x' }) }), 404, 'NOT_FOUND'),
    );
    for (const [what, p] of [
      ['job result, SQL-ish id', `/job-results/${encodeURIComponent("1' OR '1'='1")}`],
      ['job result, traversal', '/job-results/..%2f..%2fuploads'],
      ['collection, unknown id', '/upload-collections/AAAAAAAAAAAAAAAAAAAAAA'],
      ['collection, traversal', '/upload-collections/..%2f'],
      ['filter, SQL-ish', `/upload-filters/${encodeURIComponent('x" OR 1=1')}`],
      ['references of an unknown upload', '/uploads/AAAAAAAAAAAAAAAAAAAAAA/references'],
      ['webhook, unknown id', '/webhooks/999999'],
    ]) {
      await probe.case(C, `GET ${what} → 404/422`, async (c) => c.expect(await c.cma('GET', p), [404, 422]));
    }
    await probe.case(C, 'DELETE /upload-collections/{traversal} → 404/422', async (c) =>
      c.expect(await c.cma('DELETE', '/upload-collections/..%2f..%2f'), [404, 422]),
    );
    for (const [what, target] of [
      ['/uploads/../uploads (raw dot segments)', '/uploads/../healthz'],
      ['/uploads/%2e%2e/%2e%2e/etc/passwd (raw)', '/uploads/%2e%2e/%2e%2e/etc/passwd'],
      ['/uploads/ (trailing slash)', '/uploads/'],
      ['//uploads', '//uploads'],
    ]) {
      await probe.case(C, `GET ${what} → 404/422 (or 400)`, async (c) => {
        const x = await c.raw([rawReq('GET', target, authHeaders(srv.token))], { timeoutMs: 3000 });
        c.expect(x.answers[0], [400, 404, 422]);
      });
    }
    await probe.case(C, 'raw UTF-8 bytes in the path → 400/404', async (c) => {
      const x = await c.raw([Buffer.concat([Buffer.from('GET /uploads/'), Buffer.from('ñ🙂', 'utf8'), rawReq('', '', authHeaders(srv.token)).subarray(1)])], { envelope: false, timeoutMs: 3000 });
      c.expect(x.answers[0], [400, 404, 422]);
    });
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('5. listing query parameters', T, async () => {
  const C = '5. Listing query params';
  await probe.unchanged(C, async () => {
    const q422 = [
      ['page[limit]=-1', 'page[limit]=-1', 'INVALID_PARAMS'],
      ['page[limit]=501', 'page[limit]=501', 'INVALID_PARAMS'],
      ['page[limit]=abc', 'page[limit]=abc', 'INVALID_PARAMS'],
      ['page[limit]=1.5', 'page[limit]=1.5', 'INVALID_PARAMS'],
      ['page[limit]=1e3', 'page[limit]=1e3', 'INVALID_PARAMS'],
      ['page[limit]=99999999999999999999', 'page[limit]=99999999999999999999', 'INVALID_PARAMS'],
      ['page[limit][]=1', 'page[limit][]=1', 'INVALID_PARAMS'],
      ['page=5', 'page=5', 'INVALID_PARAMS'],
      ['page[offset]=-1', 'page[offset]=-1', 'INVALID_PARAMS'],
      ['page[offset]=abc', 'page[offset]=abc', 'INVALID_PARAMS'],
      ['page[offset]=2^64', 'page[offset]=18446744073709551616', 'INVALID_PARAMS'],
      ['page[bogus]=1', 'page[bogus]=1', 'INVALID_PARAMS'],
      ['filter[fields][bogus][eq]=1', 'filter[fields][bogus][eq]=1', 'INVALID_FILTER_FIELDS_PARAM'],
      ['filter[fields][size][matches]=x', 'filter[fields][size][matches]=x', 'INVALID_FILTER_FIELDS_PARAM'],
      ['filter[fields][size][gt]=abc', 'filter[fields][size][gt]=abc', null],
      ['filter[fields][width][eq]=1e999', 'filter[fields][width][eq]=1e999', null],
      ['filter[fields][_created_at][gt]=notadate', 'filter[fields][_created_at][gt]=notadate', null],
      ['filter[fields][mime_type][matches] invalid regexp', 'filter[fields][mime_type][matches][pattern]=(&filter[fields][mime_type][matches][regexp]=true', null],
      ['filter[fields][tags][bogusop]=x', 'filter[fields][tags][bogusop]=x', 'INVALID_FILTER_FIELDS_PARAM'],
      ['filter[fields]=x (not nested)', 'filter[fields]=x', null],
      ['filter[bogus]=1', 'filter[bogus]=1', null],
      ['filter[type]=image (not an upload parameter)', 'filter[type]=image', null],
      ['filter=x', 'filter=x', null],
      ['order_by=bogus_ASC', 'order_by=bogus_ASC', 'INVALID_ORDERING'],
      ['order_by=size (no direction)', 'order_by=size', 'INVALID_ORDERING'],
      ['order_by=size_ASC;DROP TABLE uploads', `order_by=${encodeURIComponent('size_ASC;DROP TABLE uploads')}`, 'INVALID_ORDERING'],
      ['order_by=_rank_DESC without a query', 'order_by=_rank_DESC', null],
      ['order_by[]=size_ASC', 'order_by[]=size_ASC', null],
      ['locale=xx', 'locale=xx', 'INVALID_PARAMS'],
      ['locale=../en', `locale=${encodeURIComponent('../en')}`, 'INVALID_PARAMS'],
      ['an unknown parameter', 'foo=1', 'INVALID_PARAMS'],
    ];
    for (const [what, qs, code] of q422) {
      await probe.case(C, `GET /uploads?${what} → 422`, async (c) => c.expect(await c.cma('GET', `/uploads?${qs}`), 422, code ?? undefined));
    }
    await probe.case(C, "filter[query]=' OR 1=1 -- finds nothing → 200, []", async (c) => {
      const a = c.expect(await c.cma('GET', `/uploads?filter[query]=${encodeURIComponent("' OR 1=1 --")}`), 200);
      assert.equal(a.body.data.length, 0, a.text.slice(0, 300));
    });
    await probe.case(C, 'filter[query] of FTS operators ("cat* OR NEAR(") → 200, []', async (c) => {
      const a = c.expect(await c.cma('GET', `/uploads?filter[query]=${encodeURIComponent('zzz* OR NEAR( "x')}`), 200);
      assert.equal(a.body.data.length, 0, a.text.slice(0, 300));
    });
    await probe.case(C, 'filter[ids] SQL-ish → 200, []', async (c) => {
      const a = c.expect(await c.cma('GET', `/uploads?filter[ids]=${encodeURIComponent("x') OR ('1'='1")}`), [200, 422]);
      if (a.status === 200) assert.equal(a.body.data.length, 0, a.text.slice(0, 300));
    });
    await probe.case(C, 'filter[fields][notes][matches][pattern]=% (LIKE wildcard) matches only literal % → 200, []', async (c) => {
      const a = c.expect(await c.cma('GET', '/uploads?filter[fields][notes][matches][pattern]=%25'), 200);
      assert.equal(a.body.data.length, 0, a.text.slice(0, 300));
    });
    await probe.case(C, 'page[offset]=10^12 (valid, past the end) → 200, []', async (c) => {
      const a = c.expect(await c.cma('GET', '/uploads?page[offset]=1000000000000'), 200);
      assert.equal(a.body.data.length, 0);
    });
    await probe.case(C, 'page[limit]=0 → 200 with only the count', async (c) => {
      const a = c.expect(await c.cma('GET', '/uploads?page[limit]=0'), 200);
      assert.equal(a.body.data.length, 0);
      assert.equal(a.body.meta.total_count, 3);
    });
    // Deeply nested query keys: run on a throwaway server each, so that a crash cannot take the
    // other classes with it; the server must answer and still be alive afterwards.
    const nested = `a${'[b]'.repeat(5000)}=1`;
    for (const [what, mk, method, want, route] of [
      ['GET /uploads with a 5000-level nested query key → 422, server alive', (b) => `${b}/uploads?${nested}`, 'GET', [422], 'cma'],
      ['unauthenticated PUT /put/… with a 5000-level nested query key → 422, server alive', (b) => `${b}/put/1/1700000000-x.png?${nested}`, 'PUT', [422], 'public'],
      ['unauthenticated GET of an asset with a 5000-level nested query key → 200/400/403, server alive', (b, u) => `${u}?${nested}`, 'GET', [200, 400, 403], 'public'],
    ]) {
      await probe.case(C, what, async (c) => {
        const s = await startServer({});
        try {
          const u = await s.client.uploads.createFromLocalFile({ localPath: await fixture('cat.png') });
          const h = route === 'cma' ? { Authorization: `Bearer ${s.token}`, Accept: 'application/json', 'X-Api-Version': '3' } : {};
          const a = await c.fetch(mk(s.baseUrl, u.url), { method, headers: h, body: method === 'PUT' ? 'x' : undefined }, { route });
          c.expect(a, want);
          c.expect(await c.fetch(`${s.baseUrl}/healthz`, {}, { route: 'other', label: 'alive afterwards' }), 200);
        } finally {
          await s.stop();
        }
      });
    }
    await probe.case(C, 'GET /upload-tags?page[limit]=-1 → 422', async (c) => c.expect(await c.cma('GET', '/upload-tags?page[limit]=-1'), 422));
    await probe.case(C, 'GET /upload-tags?page[limit]=501 → 422', async (c) => c.expect(await c.cma('GET', '/upload-tags?page[limit]=501'), 422));
    await probe.case(C, 'GET /webhook_calls?page[limit]=abc → 422', async (c) => c.expect(await c.cma('GET', '/webhook_calls?page[limit]=abc'), 422));
    await probe.case(C, 'GET /webhook_calls?order_by=bogus → 422', async (c) => c.expect(await c.cma('GET', '/webhook_calls?order_by=bogus'), 422));
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
async function uploadRequest(c, filename) {
  const a = c.expect(await c.cma('POST', '/upload-requests', { body: { data: { type: 'upload_request', attributes: { filename } } } }), 200);
  return { id: a.body.data.id, url: a.body.data.attributes.url, headers: a.body.data.attributes.request_headers ?? {} };
}
const createBody = (p) => ({ data: { type: 'upload', attributes: { path: p } } });

test('6. upload URLs', T, async () => {
  const C = '6. Upload URLs';
  const consumed = [];
  await probe.unchanged(C, async () => {
    const put = (c, url, body, headers = {}) => c.fetch(url, { method: 'PUT', body, headers: { 'Content-Type': 'image/png', ...headers } });
    const png = pngBytes(4, 4, [1, 2, 3]);
    const notUploaded = async (c, p) => c.expect(await c.cma('POST', '/uploads', { body: createBody(p) }), 422, 'INVALID_FIELD');
    // The expired-URL case's request is made first and used last, so that its wait overlaps the rest.
    let expiring;
    const expiringAt = Date.now() + (URL_TTL + 1.5) * 1000;
    await probe.case(C, 'POST /upload-requests (for the expiry case) → 200', async (c) => {
      expiring = await uploadRequest(c, 'expired.png');
    });
    // Tampered URLs (README "Upload requests": 403 INVALID_SIGNATURE for a missing, tampered or expired signature).
    const tamper = [
      ['signature changed', (u) => { const s = u.searchParams.get('sig') ?? u.searchParams.get('X-Amz-Signature'); const k = u.searchParams.has('sig') ? 'sig' : 'X-Amz-Signature'; u.searchParams.set(k, `${s.slice(0, -1)}${s.at(-1) === '0' ? '1' : '0'}`); }],
      ['expiry moved', (u) => { if (u.searchParams.has('expires')) u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 3600)); else u.searchParams.set('X-Amz-Expires', '604800'); }],
      ['signature removed', (u) => { u.searchParams.delete('sig'); u.searchParams.delete('X-Amz-Signature'); }],
      ['query removed', (u) => { u.search = ''; }],
      ['path changed', (u) => { u.pathname = `${u.pathname}x`; }],
    ];
    for (const [what, f] of tamper) {
      await probe.case(C, `PUT to an upload URL with the ${what} → 403, nothing stored`, async (c) => {
        const req = await uploadRequest(c, 'tamper.png');
        const u = new URL(req.url);
        f(u);
        const a = await put(c, u.toString(), png, req.headers);
        // With S3 the PUT goes to the bucket (s3s-fs here), not to assetd: its answer is recorded, and
        // what assetd must guarantee is checked: the request's path has no file.
        if (!S3 || what === 'signature changed') c.expect(a, 403, S3 ? undefined : 'INVALID_SIGNATURE');
        await notUploaded(c, req.id);
      });
    }
    await probe.case(C, "PUT with another request's signature → 403", async (c) => {
      const a = await uploadRequest(c, 'a.png');
      const b = await uploadRequest(c, 'b.png');
      const u = new URL(a.url);
      u.search = new URL(b.url).search;
      c.expect(await put(c, u.toString(), png, a.headers), 403, S3 ? undefined : 'INVALID_SIGNATURE');
      await notUploaded(c, a.id);
    });
    // Over ASSETD_MAX_UPLOAD_SIZE: 413 FILE_TOO_LARGE, nothing stored (with S3 the bucket takes it and POST /uploads refuses it).
    const tooBig = Buffer.alloc(MAX_UPLOAD + 512 * 1024, 7);
    await probe.case(C, 'PUT over ASSETD_MAX_UPLOAD_SIZE with Content-Length → 413, nothing stored', async (c) => {
      const req = await uploadRequest(c, 'big.bin');
      const a = await put(c, req.url, tooBig, req.headers);
      if (S3) {
        c.expect(a, 200);
        const r = c.expect(await c.cma('POST', '/uploads', { body: createBody(req.id) }), [413, 422]);
        assert.ok(JSON.stringify(r.body).includes('FILE_TOO_LARGE'), r.text);
      } else {
        c.expect(a, 413, 'FILE_TOO_LARGE');
        await notUploaded(c, req.id);
      }
    });
    if (!S3) {
      await probe.case(C, 'chunked PUT over ASSETD_MAX_UPLOAD_SIZE (raw) → 413, nothing stored', async (c) => {
        const req = await uploadRequest(c, 'big-chunked.bin');
        const u = new URL(req.url);
        const x = await c.raw([rawReq('PUT', `${u.pathname}${u.search}`, [['Transfer-Encoding', 'chunked'], ['Content-Type', 'application/octet-stream']]), ...chunked(tooBig)], { route: 'public', timeoutMs: 15000 });
        c.expect(x.answers[0], 413, 'FILE_TOO_LARGE');
        await notUploaded(c, req.id);
      });
      await probe.case(C, 'PUT with Content-Length over the limit but no body sent yet (raw) → 413 at once', async (c) => {
        const req = await uploadRequest(c, 'declared.bin');
        const u = new URL(req.url);
        const x = await c.raw([rawReq('PUT', `${u.pathname}${u.search}`, [['Content-Length', String(50 * 1024 * 1024)]]), Buffer.alloc(1000)], { route: 'public', timeoutMs: 12000 });
        c.expect(x.answers[0], 413, 'FILE_TOO_LARGE');
        await notUploaded(c, req.id);
      });
    } else {
      probe.note(C, 'chunked PUTs go to the bucket with S3: not probed');
    }
    // A consumed upload request: the PUT answers 409 UPLOAD_REQUEST_ALREADY_USED (README); with S3 the
    // bucket takes it on the staging key and it changes nothing.
    await probe.case(C, `PUT again to a consumed upload URL → ${S3 ? 'the bucket takes it, the upload keeps its bytes' : '409 UPLOAD_REQUEST_ALREADY_USED'}`, async (c) => {
      const req = await uploadRequest(c, 'consumed.png');
      c.expect(await put(c, req.url, png, req.headers), 200);
      const r = await createJob(c, req.id);
      assert.equal(r.status, 200, JSON.stringify(r.payload).slice(0, 300));
      const u = r.payload.data;
      consumed.push(u.id);
      const again = await put(c, req.url, pngBytes(5, 5, [9, 9, 9]), req.headers);
      if (S3) c.expect(again, 200);
      else c.expect(again, 409, 'UPLOAD_REQUEST_ALREADY_USED');
      const served = c.expect(await c.fetch(u.attributes.url), 200);
      assert.ok(served.buf.equals(png), 'the upload still serves the first file');
      c.expect(await c.cma('POST', '/uploads', { body: createBody(req.id) }), 422, 'INVALID_FIELD');
      c.expect(await c.cma('DELETE', `/uploads/${u.id}`), 200);
    });
    await probe.case(C, 'PUT to the (expired, consumed) upload URL of a seeded upload → 403/409, bytes unchanged', async (c) => {
      const a = await put(c, seed.jpeg.req.url, png, seed.jpeg.req.request_headers ?? {});
      c.expect(a, S3 ? [200, 403] : [403, 409]);
    });
    await probe.case(C, 'POST /uploads with the path of a seeded upload → 422 VALIDATION_UNIQUENESS', async (c) => {
      const a = c.expect(await c.cma('POST', '/uploads', { body: createBody(seed.png.req.id) }), 422, 'INVALID_FIELD');
      assert.equal(a.body.data[0].attributes.details.code, 'VALIDATION_UNIQUENESS', a.text);
    });
    await probe.case(C, 'POST /uploads with a path requested but never PUT → 422', async (c) => {
      const req = await uploadRequest(c, 'never.png');
      const a = await notUploaded(c, req.id);
      assert.equal(a.body.data[0].attributes.details.field, 'path', a.text);
    });
    for (const [what, p] of [
      ['never requested', '/1/1700000000-never-requested.png'],
      ['of another project', '/999/1700000000-cat.png'],
      ['with traversal', '/1/../../../etc/passwd'],
      ['a URL', 'http://127.0.0.1:1/x.png'],
      ['empty', ''],
    ]) {
      await probe.case(C, `POST /uploads with a path ${what} → 422`, async (c) => c.expect(await c.cma('POST', '/uploads', { body: createBody(p) }), 422));
    }
    await probe.case(C, 'PUT /uploads/{id} new version with a path never PUT → 422', async (c) => {
      const req = await uploadRequest(c, 'nv.png');
      c.expect(await c.cma('PUT', `/uploads/${idOf('png')}`, { body: updateBody(idOf('png'), { path: req.id }) }), 422, 'INVALID_FIELD');
    });
    await probe.case(C, 'POST to /put/… (no such method) → 405', async (c) => {
      const req = await uploadRequest(c, 'm.png');
      const u = new URL(req.url);
      const a = await c.fetch(`${srv.baseUrl}/put${u.pathname.replace(/^\/put/, '')}${u.search}`, { method: 'POST', body: png });
      // With S3 there is no /put/ route: the CMA fallback asks for a token (401) or answers 404.
      c.expect(a, S3 ? [401, 404, 405] : 405);
    });
    await probe.case(C, 'PUT /put/ with a traversal path → 403/404', async (c) => {
      const x = await c.raw([rawReq('PUT', '/put/1/..%2f..%2fassetd.db?expires=9999999999&sig=00', [['Content-Length', '3']], 'abc')], { route: 'public' });
      c.expect(x.answers[0], [403, 404]);
    });
    await probe.case(C, `PUT to an expired upload URL (TTL ${URL_TTL} s) → 403, nothing stored`, async (c) => {
      await new Promise((r) => setTimeout(r, Math.max(0, expiringAt - Date.now())));
      c.expect(await put(c, expiring.url, png, expiring.headers), 403, S3 ? undefined : 'INVALID_SIGNATURE');
      await notUploaded(c, expiring.id);
    });
  }, { ignore: () => consumed });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('7. asset URLs and transform parameters', T, async () => {
  const C = '7. Asset URLs & transforms';
  await probe.unchanged(C, async () => {
    const jpg = seed.jpeg.upload.url;
    const ap = assetPath('jpeg');
    for (const [what, p] of [
      ['a tampered file name', ap.replace(/\.jpg$/, '-x.jpg')],
      ['another project', ap.replace(/^\/1\//, '/999/')],
      ['encoded traversal', `/1/..%2f..%2f..%2fetc%2fpasswd`],
      ['a NUL byte', `${ap}%00.png`],
      ['a 10 KB name', `/1/${'a'.repeat(10000)}.jpg`],
      ['the data dir', '/1/assetd.db'],
    ]) {
      // Another project's path is no asset route: the CMA fallback may ask for a token first (401).
      const expected = what === 'another project' ? [401, 404] : what === 'a NUL byte' ? [400] : [404];
      await probe.case(C, `GET asset with ${what} → ${expected.join('/')}`, async (c) => c.expect(await c.fetch(`${srv.baseUrl}${p}`), expected));
    }
    await probe.case(C, 'GET /1/../../etc/passwd (raw dot segments: no asset route, the CMA fallback refuses it) → 4xx', async (c) => {
      const x = await c.raw([rawReq('GET', '/1/../../etc/passwd')], { route: 'cma', timeoutMs: 3000 });
      c.expect(x.answers[0], [400, 401, 404, 406]);
    });
    // Unsigned URLs with rendering parameters: 403 TRANSFORM_NOT_ALLOWED (a secret is set).
    for (const q of ['w=100', 'w=-1', 'fm=bogus', 'preset=thumb&w=5']) {
      await probe.case(C, `unsigned ?${q} → 403 TRANSFORM_NOT_ALLOWED`, async (c) => c.expect(await c.fetch(`${jpg}?${q}`), 403, 'TRANSFORM_NOT_ALLOWED'));
    }
    // Signed URLs with bad values: 400 INVALID_IMAGE_PARAMS with details.param.
    const bad = [
      ['w=-1', 'w'], ['w=abc', 'w'], ['w=0', 'w'], ['h=NaN', 'h'], ['w=1e400', 'w'], ['dpr=abc', 'dpr'], ['w=10&dpr=Infinity', 'dpr'],
      ['fm=bogus', 'fm'], ['fm=jp2', 'fm'], ['fm=json', 'fm'], ['fm=blurhash', 'fm'], ['fit=bogus', 'fit'], ['crop=garbage', 'crop'],
      ['crop=focalpoint,%3Cscript%3E', 'crop'], ['rect=5000,5000,10,10', 'rect'], ['rect=a,b,c,d', 'rect'], ['rect=1,2,3', 'rect'],
      ['rect=-5,-5,10,10', 'rect'], ['ar=abc&fit=crop&w=10', 'ar'], ['ar=16:0&fit=crop&w=10', 'ar'], ['bg=zzzzzz', 'bg'], ['q=abc', 'q'],
      ['max-w=-5', 'max-w'], ['fp-x=abc&crop=focalpoint&fit=crop&w=5&h=5', 'fp-x'],
    ];
    for (const [q, param] of bad) {
      await probe.case(C, `signed ?${q} → 400 INVALID_IMAGE_PARAMS`, async (c) => {
        const a = c.expect(await c.fetch(signed(jpg, q)), 400, 'INVALID_IMAGE_PARAMS');
        assert.equal(a.body.data[0].attributes.details.param, param, a.text);
      });
    }
    await probe.case(C, 'signed ?rect=0,0,99999,99999 (past the edges) → 400, or 200 clipped', async (c) =>
      c.expect(await c.fetch(signed(jpg, 'rect=0,0,99999,99999')), [200, 400]),
    );
    await probe.case(C, 'unknown preset → 400 INVALID_IMAGE_PARAMS', async (c) => c.expect(await c.fetch(`${jpg}?preset=bogus`), 400, 'INVALID_IMAGE_PARAMS'));
    // Out-of-range numbers are clamped (README): the answer is an image within the bounds.
    for (const [q, maxW] of [['w=100000', 80 * 4], ['w=10&dpr=1000', 50], ['q=1000&w=8', 8], ['blur=999999999&w=8', 8], ['fp-x=5&fp-y=-5&crop=focalpoint&fit=crop&w=8&h=8', 8], ['w=1e9&h=1e9&fit=fill', 4 * 80]]) {
      await probe.case(C, `signed ?${q} is clamped → 200 image`, async (c) => {
        const a = c.expect(await c.fetch(signed(jpg, q)), 200);
        assert.match(a.headers['content-type'], /^image\//);
        assert.ok(a.buf.length > 0);
        void maxW;
      });
    }
    await probe.case(C, 'names imgix does not know (utm_source, ixlib) → 200, the original', async (c) => {
      const a = c.expect(await c.fetch(`${jpg}?utm_source=x&ixlib=js-3.8.0`), 200);
      assert.equal(createHash('md5').update(a.buf).digest('hex'), seed.jpeg.upload.md5);
    });
    await probe.case(C, 'imgix parameters assetd does not render (txt, mark), signed → 400 UNSUPPORTED_PARAMS naming them', async (c) => {
      const a = c.expect(await c.fetch(signed(jpg, 'txt=%3Cscript%3E&mark=http://evil/x.png&utm_source=x')), 400, 'UNSUPPORTED_PARAMS');
      assert.deepEqual(a.body.data[0].attributes.details.params, ['txt', 'mark']);
    });
    // Signatures (README: wrong signature → 403 INVALID_SIGNATURE).
    const good = signed(jpg, 'w=24&fm=png');
    for (const [what, url] of [
      ['a flipped hex digit', good.replace(/.$/, (d) => (d === '0' ? '1' : '0'))],
      ['an empty s', `${jpg}?w=24&fm=png&s=`],
      ['a non-hex s', `${jpg}?w=24&fm=png&s=zz`],
      ['reordered parameters', `${jpg}?fm=png&w=24&s=${new URL(good).searchParams.get('s')}`],
      ['another path', `${seed.png.upload.url}?w=24&fm=png&s=${new URL(good).searchParams.get('s')}`],
      ['an added parameter', `${jpg}?w=24&fm=png&h=5&s=${new URL(good).searchParams.get('s')}`],
      ['the MD5 of imgix', `${jpg}?w=24&fm=png&s=${createHash('md5').update(`${SECRET}${ap}?w=24&fm=png`).digest('hex')}`],
    ]) {
      await probe.case(C, `signature with ${what} → 403 INVALID_SIGNATURE`, async (c) => c.expect(await c.fetch(url), 403, 'INVALID_SIGNATURE'));
    }
    await probe.case(C, 'the good signature → 200 PNG 24 px wide', async (c) => {
      const a = c.expect(await c.fetch(good), 200);
      assert.equal(a.buf.readUInt32BE(16), 24);
    });
    // Hostile Range and conditional headers on the original.
    await probe.case(C, 'Range: bytes=99999999- → 416', async (c) => c.expect(await c.fetch(jpg, { headers: { Range: 'bytes=99999999-' } }), 416));
    await probe.case(C, 'Range: bytes=abc → 200 whole file', async (c) => {
      const a = c.expect(await c.fetch(jpg, { headers: { Range: 'bytes=abc' } }), 200);
      assert.equal(a.buf.length, seed.jpeg.upload.size);
    });
    await probe.case(C, 'several ranges → 200 whole file (README)', async (c) => {
      const a = c.expect(await c.fetch(jpg, { headers: { Range: 'bytes=0-1,5-9' } }), 200);
      assert.equal(a.buf.length, seed.jpeg.upload.size);
    });
    await probe.case(C, 'Range: bytes=-0 → 416', async (c) => c.expect(await c.fetch(jpg, { headers: { Range: 'bytes=-0' } }), [416, 200]));
    await probe.case(C, 'If-None-Match garbage → 200', async (c) => c.expect(await c.fetch(jpg, { headers: { 'If-None-Match': '"abc, W/*, ""' } }), 200));
    await probe.case(C, 'If-Modified-Since garbage → 200', async (c) => c.expect(await c.fetch(jpg, { headers: { 'If-Modified-Since': 'yesterday-ish' } }), 200));
    await probe.case(C, 'DELETE on an asset URL (no such method) → 405', async (c) => c.expect(await c.fetch(jpg, { method: 'DELETE' }), 405));
    await probe.case(C, 'signed SVG rasterise ?w=50&fm=png → 200 PNG', async (c) => {
      const a = c.expect(await c.fetch(signed(seed.svg.upload.url, 'w=50&fm=png')), 200);
      assert.equal(a.headers['content-type'], 'image/png');
    });
  });
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
/** Upload request + PUT + POST /uploads + job result, recorded; returns the job result's {status, payload}. */
async function createVia(c, filename, bytes) {
  const req = await uploadRequest(c, filename);
  c.expect(await c.fetch(req.url, { method: 'PUT', body: bytes, headers: { ...req.headers, 'Content-Type': 'application/octet-stream' } }), 200);
  return createJob(c, req.id);
}

/** POST /uploads with `p` and wait for the job; returns {status, payload} (a direct refusal as status + body). */
async function createJob(c, p) {
  const a = await c.cma('POST', '/uploads', { body: createBody(p) });
  if (a.status !== 202) return { status: a.status, payload: a.body, answer: a };
  for (let i = 0; i < 200; i++) {
    const r = await c.cma('GET', `/job-results/${a.body.data.id}`, { label: 'job poll' });
    if (r.status === 200) return r.body.data.attributes;
    c.expect(r, 404);
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('job did not finish');
}

function noScript(text) {
  assert.doesNotMatch(text, /<(\w+:)?script/i, 'the served SVG holds a script element');
  assert.doesNotMatch(text, /\bon[a-z]+\s*=/i, 'the served SVG holds an event handler');
  assert.doesNotMatch(text, /javascript:/i, 'the served SVG holds a javascript: link');
  assert.doesNotMatch(text, /foreignObject/i, 'the served SVG holds foreignObject');
}

test('8. hostile files through the create flow', { timeout: 90000 }, async () => {
  const C = '8. Hostile files';
  const created = [];
  probe.state(C, null);
  await probe.unchanged(
    C,
    async () => {
      const keep = (r) => {
        if (r.status === 200) created.push(r.payload.data.id);
        return r;
      };
      await probe.case(C, 'decompression-bomb PNG (30000×30000 declared) → stored with its size, transform 422 IMAGE_TOO_LARGE', async (c) => {
        const crc = (b) => { let x = ~0; for (const v of b) { x ^= v; for (let k = 0; k < 8; k++) x = x & 1 ? (x >>> 1) ^ 0xedb88320 : x >>> 1; } return ~x >>> 0; };
        const chunk = (t, d) => { const l = Buffer.alloc(4); l.writeUInt32BE(d.length); const td = Buffer.concat([Buffer.from(t), d]); const cc = Buffer.alloc(4); cc.writeUInt32BE(crc(td)); return Buffer.concat([l, td, cc]); };
        const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(30000, 0); ihdr.writeUInt32BE(30000, 4); ihdr[8] = 8;
        const bomb = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', Buffer.from([0x78, 1, 1, 0, 0, 0xff, 0xff, 0, 0, 0, 1])), chunk('IEND', Buffer.alloc(0))]);
        const r = keep(await createVia(c, 'bomb.png', bomb));
        assert.equal(r.status, 200, JSON.stringify(r.payload).slice(0, 400));
        const u = r.payload.data.attributes;
        assert.deepEqual([u.width, u.height], [30000, 30000]);
        assert.equal(u.blurhash, null);
        c.expect(await c.fetch(signed(u.url, 'w=10')), 422, 'IMAGE_TOO_LARGE');
      });
      await probe.case(C, 'truncated JPEG → kept with is_image false, transforms 422 INVALID_IMAGE', async (c) => {
        const full = fs.readFileSync(await fixture('cat.jpg'));
        const sos = full.indexOf(Buffer.from([0xff, 0xda]));
        const cut = full.subarray(0, sos + Math.floor((full.length - sos) / 2));
        const r = keep(await createVia(c, 'truncated.jpg', cut));
        assert.equal(r.status, 200, `README: a truncated JPEG is kept; got ${JSON.stringify(r.payload).slice(0, 400)}`);
        const u = r.payload.data.attributes;
        assert.equal(u.is_image, false);
        assert.equal(u.width, null);
        const orig = c.expect(await c.fetch(u.url), 200);
        assert.ok(orig.buf.equals(cut), 'served as uploaded');
        c.expect(await c.fetch(signed(u.url, 'w=10')), 422, 'INVALID_IMAGE');
      });
      const svgs = [
        ['SVG with <script> and onload', '<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)" width="10" height="10"><script>alert(1)</script><rect width="5" height="5" onclick="alert(2)"/><a href="javascript:alert(3)"><text>x</text></a></svg>'],
        ['prefixed svg:svg with svg:script', '<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="10" height="10"><svg:script>alert(1)</svg:script><svg:rect width="5" height="5"/></svg:svg>'],
        ['foreignObject with HTML script', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><foreignObject><body xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></body></foreignObject><set attributeName="onmouseover" to="alert(1)"/></svg>'],
        ['200 KiB comment prolog, then a script', `<?xml version="1.0"?><!--${'c'.repeat(200 * 1024)}--><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="5" height="5"/></svg>`],
        ['300 KiB comment prolog (root past 256 KiB)', `<?xml version="1.0"?><!--${'c'.repeat(300 * 1024)}--><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>`],
        ['billion laughs', `<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "aaaaaaaaaa">${Array.from({ length: 9 }, (_, i) => `<!ENTITY ${String.fromCharCode(98 + i)} "${`&${String.fromCharCode(97 + i)};`.repeat(10)}">`).join('')}]><svg xmlns="http://www.w3.org/2000/svg"><text>&j;</text><script>alert(1)</script></svg>`],
        ['external entity', '<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>'],
      ];
      for (const [what, svg] of svgs) {
        await probe.case(C, `${what} → served sanitised or as an attachment`, async (c) => {
          const r = keep(await createVia(c, 'hostile.svg', Buffer.from(svg)));
          assert.equal(r.status, 200, JSON.stringify(r.payload).slice(0, 400));
          const u = r.payload.data.attributes;
          const a = c.expect(await c.fetch(u.url), 200);
          const ct = a.headers['content-type'] ?? '';
          const attachment = /^attachment/i.test(a.headers['content-disposition'] ?? '');
          assert.equal(a.headers['x-content-type-options'], 'nosniff');
          assert.match(a.headers['content-security-policy'] ?? '', /sandbox/, 'README "Delivery": a sandboxing CSP');
          assert.ok(!a.text.includes('root:x:0:0'), 'an external entity was read');
          if (!attachment) {
            // Shown inline: must be the sanitised SVG.
            assert.match(ct, /^image\/svg\+xml/, `inline but ${ct}`);
            assert.equal(u.mime_type, 'image/svg+xml');
            noScript(a.text);
          } else if (!ct.startsWith('image/svg+xml')) {
            assert.notEqual(u.mime_type, 'image/svg+xml');
          }
          if (what.startsWith('prefixed')) assert.equal(u.mime_type, 'image/svg+xml', 'README: any prefix of the SVG namespace is SVG');
          if (what.startsWith('300 KiB') || what === 'billion laughs') assert.ok(attachment, 'README: served with Content-Disposition: attachment');
          if (what.startsWith('200 KiB')) assert.equal(u.mime_type, 'image/svg+xml', 'README: a prolog within 256 KiB is read');
        });
      }
      await probe.case(C, 'HTML disguised as .png → not image/png, served with nosniff + CSP', async (c) => {
        const r = keep(await createVia(c, 'evil.png', Buffer.from('<!DOCTYPE html><html><body><script>alert(1)</script></body></html>')));
        assert.equal(r.status, 200, JSON.stringify(r.payload).slice(0, 400));
        const u = r.payload.data.attributes;
        assert.notEqual(u.mime_type, 'image/png');
        assert.equal(u.is_image, false);
        const a = c.expect(await c.fetch(u.url), 200);
        assert.equal(a.headers['x-content-type-options'], 'nosniff');
        assert.match(a.headers['content-security-policy'] ?? '', /sandbox/, 'README "Delivery": a sandboxing CSP');
      });
      await probe.case(C, 'zero-byte file → a 0-byte upload or a 422, never a 5xx', async (c) => {
        const r = keep(await createVia(c, 'empty.png', Buffer.alloc(0)));
        if (r.status === 200) {
          assert.equal(r.payload.data.attributes.size, 0);
          assert.equal(r.payload.data.attributes.md5, 'd41d8cd98f00b204e9800998ecf8427e');
          assert.equal(r.payload.data.attributes.is_image, false);
        } else {
          assert.equal(r.status, 422, JSON.stringify(r.payload));
        }
      });
      await probe.case(C, 'PNG with a corrupt IDAT (fixture corrupt.png) → 422 job or is_image false', async (c) => {
        const r = keep(await createVia(c, 'corrupt.png', fs.readFileSync(await fixture('corrupt.png'))));
        if (r.status === 200) {
          const u = r.payload.data.attributes;
          c.expect(await c.fetch(signed(u.url, 'w=10')), [422]);
        } else assert.equal(r.status, 422, JSON.stringify(r.payload));
      });
    },
    { ignore: () => created },
  );
  const e = probe.entry(C);
  if (e.state === true) probe.state(C, 'other uploads yes');
  // Back to the seeded state for the classes after this one.
  for (const id of created) await srv.client.uploads.destroy(id);
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('9. connections', { timeout: 90000 }, async () => {
  const C = '9. Connections';
  const HEADER_TIMEOUT = 2;
  const IDLE_TIMEOUT = 3;
  const conn = await startServer({ env: { ASSETD_HEADER_TIMEOUT: String(HEADER_TIMEOUT), ASSETD_IDLE_TIMEOUT: String(IDLE_TIMEOUT), ASSETD_RATE_LIMIT: '0' } });
  const saved = probe.ctx;
  try {
    probe.ctx = conn;
    const up = await conn.client.uploads.createFromLocalFile({ localPath: await fixture('cat.png'), notes: 'conn' });
    const auth = authHeaders(conn.token);
    await probe.unchanged(C, async () => {
      // The four timeout cases wait on the server's clocks: run them side by side.
      await Promise.all([
        probe.case(C, `slowloris: a head trickled one header every 400 ms → closed within ASSETD_HEADER_TIMEOUT (${HEADER_TIMEOUT} s)`, async (c) => {
        const parts = ['GET /healthz HTTP/1.1\r\nHost: x\r\n'];
        for (let i = 0; i < 20; i++) parts.push({ pause: 400 }, `X-Slow-${i}: y\r\n`);
        const x = await c.raw(parts, { closeOk: true, timeoutMs: 1000 });
        assert.ok(x.closed, 'the server kept the connection open');
        assert.ok(x.elapsedMs < (HEADER_TIMEOUT + 2) * 1000, `closed after ${x.elapsedMs} ms`);
        for (const a of x.answers) c.expect(a, [408]);
      }, { envelope: false }),
        probe.case(C, 'a partial request line, then silence → closed within the header timeout', async (c) => {
        const x = await c.raw(['GET /uplo'], { closeOk: true, timeoutMs: (HEADER_TIMEOUT + 3) * 1000 });
        assert.ok(x.closed && x.elapsedMs < (HEADER_TIMEOUT + 2) * 1000, `closed ${x.closed} after ${x.elapsedMs} ms`);
      }, { envelope: false }),
        probe.case(C, 'an idle keep-alive connection after an answer → 200, then closed within the header timeout', async (c) => {
        const x = await c.raw([rawReq('GET', '/healthz', [], '', { keepAlive: true })], { timeoutMs: (HEADER_TIMEOUT + 3) * 1000 });
        c.expect(x.answers[0], 200);
        assert.ok(x.closed && x.elapsedMs < (HEADER_TIMEOUT + 2) * 1000, `closed ${x.closed} after ${x.elapsedMs} ms`);
      }),
        probe.case(C, `a stalled body (10 of 1000 bytes) → closed within ASSETD_IDLE_TIMEOUT (${IDLE_TIMEOUT} s), nothing changed`, async (c) => {
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Content-Length', '1000']], '{"data":{"')], { closeOk: true, timeoutMs: (IDLE_TIMEOUT + 4) * 1000 });
        assert.ok(x.closed && x.elapsedMs < (IDLE_TIMEOUT + 3) * 1000, `closed ${x.closed} after ${x.elapsedMs} ms`);
        for (const a of x.answers) c.expect(a, [400, 408]);
      }),
      ]);
      await probe.case(C, 'CL + TE (smuggling): one answer, then the connection is closed (RFC 9112 §6.1)', async (c) => {
        const body = '0\r\n\r\nGET /uploads HTTP/1.1\r\nHost: x\r\n\r\n';
        const x = await c.raw([rawReq('POST', '/uploads', [...auth, ['Content-Type', 'application/json'], ['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']], body, { keepAlive: true })], { timeoutMs: 3000, envelope: false });
        c.expect(x.answers[0], [400, 422]);
        assert.equal(x.answers.length, 1, `a smuggled second request was answered: ${x.data.toString('latin1').slice(0, 600)}`);
        assert.ok(x.closed, 'the connection stayed open after a CL+TE request');
      });
      await probe.case(C, 'TE: chunked + CL on a PUT with a smuggled DELETE → one answer, upload kept', async (c) => {
        const body = `0\r\n\r\nDELETE /uploads/${up.id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${conn.token}\r\nAccept: application/json\r\nX-Api-Version: 3\r\n\r\n`;
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked'], ['Content-Length', '5']], body, { keepAlive: true })], { timeoutMs: 3000, envelope: false });
        c.expect(x.answers[0], [400, 422]);
        assert.equal(x.answers.length, 1, `the smuggled DELETE was answered: ${x.data.toString('latin1').slice(0, 600)}`);
      });
      await probe.case(C, 'two different Content-Length headers → 400', async (c) => {
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Content-Length', '5'], ['Content-Length', '6']], '{}{}{}')], { timeoutMs: 3000, envelope: false });
        c.expect(x.answers[0], 400);
      });
      await probe.case(C, 'Content-Length "5, 6" → 400', async (c) => {
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Content-Length', '5, 6']], '{}{}{}')], { timeoutMs: 3000, envelope: false });
        c.expect(x.answers[0], 400);
      });
      await probe.case(C, 'negative Content-Length → 400', async (c) => {
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Length', '-1']], '{}')], { timeoutMs: 3000, envelope: false });
        c.expect(x.answers[0], 400);
      });
      await probe.case(C, 'invalid chunk size → 400 or closed, nothing changed', async (c) => {
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']], 'zz\r\n{}\r\n0\r\n\r\n')], { timeoutMs: 3000, envelope: false, closeOk: true });
        for (const a of x.answers) c.expect(a, [400]);
      });
      await probe.case(C, 'garbage request line → 400', async (c) => {
        const x = await c.raw(['HELLO THERE\r\n\r\n'], { timeoutMs: 3000, envelope: false, closeOk: true });
        for (const a of x.answers) c.expect(a, 400);
      });
      await probe.case(C, 'three pipelined GETs → three answers in order', async (c) => {
        const x = await c.raw([Buffer.concat([rawReq('GET', '/healthz', [], '', { keepAlive: true }), rawReq('GET', '/uploads?page[limit]=1', auth, '', { keepAlive: true }), rawReq('GET', `/uploads/${up.id}`, auth)])], { timeoutMs: 2500 });
        assert.deepEqual(x.answers.map((a) => a.status), [200, 200, 200]);
        assert.equal(x.answers[2].body.data.id, up.id);
      });
      await probe.case(C, 'pipelined GET, unauthenticated DELETE, GET → 200, 401, 200', async (c) => {
        const x = await c.raw([Buffer.concat([rawReq('GET', `/uploads/${up.id}`, auth, '', { keepAlive: true }), rawReq('DELETE', `/uploads/${up.id}`, auth.slice(1), '', { keepAlive: true }), rawReq('GET', `/uploads/${up.id}`, auth)])], { timeoutMs: 2500 });
        assert.deepEqual(x.answers.map((a) => a.status), [200, 401, 200]);
      });
      await probe.case(C, 'pipelined 3 MB body then a GET → 413, connection closed (README: Connection: close)', async (c) => {
        const big = Buffer.alloc(3 * 1000 * 1000, 0x20);
        const x = await c.raw([rawReq('PUT', `/uploads/${up.id}`, [...auth, ['Content-Type', 'application/json'], ['Content-Length', String(big.length)]], big, { keepAlive: true }), rawReq('GET', '/healthz')], { timeoutMs: 12000 });
        c.expect(x.answers[0], 413, 'REQUEST_ENTITY_TOO_LARGE');
        assert.match(x.answers[0].headers.connection ?? '', /close/i);
        assert.equal(x.answers.length, 1);
      });
      await probe.case(C, '200 headers of 10 bytes (raw) → 200 or 431', async (c) => {
        const hs = Array.from({ length: 200 }, (_, i) => [`X-${i}`, 'v']);
        const x = await c.raw([rawReq('GET', '/uploads?page[limit]=1', [...auth, ...hs])], { envelope: false, timeoutMs: 3000 });
        c.expect(x.answers[0], [200, 431]);
      });
    });
  } finally {
    probe.ctx = saved;
    await conn.stop();
  }
  probe.assertClass(C);
});

// ---------------------------------------------------------------------------
test('10. transform load', { timeout: 90000 }, async () => {
  const C = '10. Transform load';
  const load = await startServer({
    env: {
      ASSETD_TRANSFORM_MEMORY: '8',
      ASSETD_TRANSFORM_CONCURRENCY: '2',
      ASSETD_TRANSFORM_QUEUE: '8',
      // Above undici's 4 s keep-alive (so pooled connections are not closed under the client), and
      // below the queue wait: a transform that waits longer than the idle timeout must still get
      // its image or a 503, never a closed connection (README "Bodies and connections").
      ASSETD_TRANSFORM_QUEUE_WAIT: '6',
      ASSETD_IDLE_TIMEOUT: '5',
      ASSETD_PUBLIC_RATE_LIMIT: '0',
      ASSETD_RATE_LIMIT: '0',
    },
  });
  const saved = probe.ctx;
  try {
    probe.ctx = load;
    const side = 1200;
    const pixels = randomBytes(side * side * 3);
    const p = writeFileIn(TMP, 'noise.png', pngFromPixels(side, side, pixels));
    const src = await load.client.uploads.createFromLocalFile({ localPath: p });
    await probe.unchanged(C, async () => {
      const widths = Array.from({ length: 60 }, (_, i) => 100 + i);
      const results = [];
      await probe.case(C, '60 distinct transforms (w=100…159&fm=png), 20 at a time → each 200 or 503 with Retry-After', async (c) => {
        let next = 0;
        const worker = async () => {
          while (next < widths.length) {
            const w = widths[next++];
            const a = await c.fetch(`${src.url}?w=${w}&fm=png`, {}, { allow503: true });
            c.expect(a, [200, 503]);
            if (a.status === 200) {
              assert.equal(a.headers['content-type'], 'image/png');
              assert.equal(a.buf.readUInt32BE(16), w, 'PNG width');
            } else {
              assert.match(a.headers['retry-after'] ?? '', /^[1-9]\d*$/);
            }
            results.push(a.status);
          }
        };
        await Promise.all(Array.from({ length: 20 }, worker));
        assert.equal(results.length, 60);
      });
      probe.note(C, `${results.filter((s) => s === 200).length} rendered, ${results.filter((s) => s === 503).length} refused with 503`);
      await probe.case(C, 'after the burst a transform renders → 200', async (c) => {
        const a = c.expect(await c.fetch(`${src.url}?w=77&fm=png`), 200);
        assert.equal(a.buf.readUInt32BE(16), 77);
      });
    });
  } finally {
    probe.ctx = saved;
    await load.stop();
  }
  probe.assertClass(C);
});
