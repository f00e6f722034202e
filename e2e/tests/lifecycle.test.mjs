// find / list (md5 filter, rejected filters, paging) / destroy / upload tags.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { useServer, fixture, fileMd5, getBytes, expectApiError, cma } from '../harness.mjs';

const T = { timeout: 90000 };
const fx = {};
let a; // cat.png, tagged
let b; // doc.pdf

const srv = useServer({}, async ({ client }) => {
  for (const name of ['cat.png', 'doc.pdf']) fx[name] = await fixture(name);
  a = await client.uploads.createFromLocalFile({ localPath: fx['cat.png'], tags: ['alpha-tag', 'beta-tag'] });
  b = await client.uploads.createFromLocalFile({ localPath: fx['doc.pdf'] });
});

test('find returns the upload', T, async () => {
  const f = await srv.client.uploads.find(a.id);
  assert.equal(f.id, a.id);
  assert.equal(f.type, 'upload');
  const strip = (u) => {
    const { smart_tags, meta, updated_at, ...rest } = u; // may change in the background
    return rest;
  };
  assert.deepEqual(strip(f), strip(a), 'find returns the same resource that create returned');
  assert.deepEqual(f.tags, ['alpha-tag', 'beta-tag']);
});

test('list filtered by md5 returns only the matching upload', T, async () => {
  const c = srv.client;
  const all = await c.uploads.list();
  const ids = all.map((u) => u.id).sort();
  assert.deepEqual(ids, [a.id, b.id].sort());

  const la = await c.uploads.list({ filter: { fields: { md5: { eq: fileMd5(fx['cat.png']) } } } });
  assert.deepEqual(la.map((u) => u.id), [a.id]);
  const lb = await c.uploads.list({ filter: { fields: { md5: { eq: fileMd5(fx['doc.pdf']) } } } });
  assert.deepEqual(lb.map((u) => u.id), [b.id]);
  const none = await c.uploads.list({ filter: { fields: { md5: { eq: '0'.repeat(32) } } } });
  assert.deepEqual(none, []);
});

test('list pagination: page[limit] and meta.total_count', T, async () => {
  const r = await srv.client.uploads.rawList({ page: { limit: 1, offset: 0 } });
  assert.equal(r.data.length, 1);
  assert.equal(r.meta?.total_count, 2);
  const r2 = await srv.client.uploads.rawList({ page: { limit: 1, offset: 1 } });
  assert.equal(r2.data.length, 1);
  assert.notEqual(r2.data[0].id, r.data[0].id);
});

test('an unknown filter field is rejected with 422 INVALID_FILTER_FIELDS_PARAM', T, async () => {
  await expectApiError(
    srv.client.uploads.list({ filter: { fields: { made_up_field: { eq: 'x' } } } }),
    422,
    'INVALID_FILTER_FIELDS_PARAM',
  );
});

test('an unknown filter operator is rejected with 422 INVALID_FILTER_FIELDS_PARAM', T, async () => {
  await expectApiError(
    srv.client.uploads.list({ filter: { fields: { md5: { made_up_operator: 'x' } } } }),
    422,
    'INVALID_FILTER_FIELDS_PARAM',
  );
});

test('uploadTags.list includes the tags used on uploads', T, async () => {
  const tags = await srv.client.uploadTags.list();
  assert.ok(Array.isArray(tags));
  for (const t of tags) assert.equal(t.type, 'upload_tag');
  const names = tags.map((t) => t.name);
  assert.ok(names.includes('alpha-tag'), `alpha-tag missing from ${JSON.stringify(names)}`);
  assert.ok(names.includes('beta-tag'), `beta-tag missing from ${JSON.stringify(names)}`);
});

test('destroy returns the upload; afterwards find is 404 and the url is gone', T, async () => {
  const c = srv.client;
  const before = await c.uploads.find(b.id);
  const gone = await c.uploads.destroy(b.id);
  assert.equal(gone.id, b.id);
  assert.equal(gone.type, 'upload');
  assert.equal(gone.md5, before.md5);
  assert.equal(gone.url, before.url);

  await expectApiError(c.uploads.find(b.id), 404, 'NOT_FOUND');
  const got = await getBytes(before.url);
  assert.equal(got.status, 404, `deleted upload url should answer 404, got ${got.status}`);

  const l = await c.uploads.list({ filter: { fields: { md5: { eq: before.md5 } } } });
  assert.deepEqual(l, []);
  const all = await c.uploads.list();
  assert.deepEqual(all.map((u) => u.id), [a.id]);

  // deleting again is a 404 as well
  const again = await cma(srv, 'DELETE', `/uploads/${b.id}`);
  assert.equal(again.status, 404);
});
