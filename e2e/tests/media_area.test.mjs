// Media Area resources through the official client: bulk tag / set collection / destroy,
// uploadCollections (tree, positions, moves, children order, reorder, destroy), uploadTags,
// uploadSmartTags, uploadFilters, uploads.references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';

import { generateId } from '@datocms/cma-client-node';
import { useServer, expectApiError, writeFileIn } from '../harness.mjs';

const T = { timeout: 90000 };
const ref = (u) => ({ type: 'upload', id: u.id });
const coll = (c) => ({ type: 'upload_collection', id: c.id });

let n = 0;
/** Create `count` small distinct text uploads concurrently. */
async function makeUploads(ctx, count, extra = {}) {
  const dir = path.join(ctx.tmpDir, 'files');
  return Promise.all(
    Array.from({ length: count }, () => {
      n += 1;
      const p = writeFileIn(dir, `media-${n}.txt`, `media area file ${n} ${Math.random()}\n`);
      return ctx.client.uploads.createFromLocalFile({ localPath: p, ...extra });
    }),
  );
}

let pool = []; // uploads made up front for the bulk tests
const srv = useServer({}, async (ctx) => {
  pool = await makeUploads(ctx, 9);
});

// ---------------------------------------------------------------------------
// bulk operations

test('bulkTag adds tags to every listed upload (union, no duplicates) and returns []', T, async () => {
  const c = srv.client;
  const [a, b, other] = pool;
  await c.uploads.update(a.id, { tags: ['keep', 'shared'] });

  const res = await c.uploads.bulkTag({ tags: ['bulk-one', 'shared'], uploads: [ref(a), ref(b)] });
  assert.deepEqual(res, []);

  const fa = await c.uploads.find(a.id);
  assert.deepEqual([...fa.tags].sort(), ['bulk-one', 'keep', 'shared']);
  assert.equal(new Set(fa.tags).size, fa.tags.length, `no duplicate tags: ${JSON.stringify(fa.tags)}`);
  const fb = await c.uploads.find(b.id);
  assert.deepEqual([...fb.tags].sort(), ['bulk-one', 'shared']);
  const fo = await c.uploads.find(other.id);
  assert.deepEqual(fo.tags, [], 'uploads not listed keep their tags');

  const tagged = await c.uploads.list({ filter: { fields: { tags: { contains: 'bulk-one' } } } });
  assert.deepEqual(tagged.map((u) => u.id).sort(), [a.id, b.id].sort());
  const tagNames = (await c.uploadTags.list({ page: { limit: 500 } })).map((t) => t.name);
  assert.ok(tagNames.includes('bulk-one'), `bulk-one in ${JSON.stringify(tagNames)}`);

  // tagging again is idempotent
  await c.uploads.bulkTag({ tags: ['bulk-one'], uploads: [ref(a)] });
  assert.deepEqual([...(await c.uploads.find(a.id)).tags].sort(), ['bulk-one', 'keep', 'shared']);
});

test('bulkSetUploadCollection puts uploads into a collection, and back to the root with null', T, async () => {
  const c = srv.client;
  const [, , x, y, z] = pool;
  const folder = await c.uploadCollections.create({ label: 'Bulk target' });

  const res = await c.uploads.bulkSetUploadCollection({ upload_collection: coll(folder), uploads: [ref(x), ref(y)] });
  assert.deepEqual(res, []);
  assert.deepEqual((await c.uploads.find(x.id)).upload_collection, coll(folder));
  assert.deepEqual((await c.uploads.find(y.id)).upload_collection, coll(folder));
  assert.equal((await c.uploads.find(z.id)).upload_collection, null, 'unlisted upload stays at the root');

  // moving to another collection
  const other = await c.uploadCollections.create({ label: 'Bulk other' });
  await c.uploads.bulkSetUploadCollection({ upload_collection: coll(other), uploads: [ref(y), ref(z)] });
  assert.deepEqual((await c.uploads.find(x.id)).upload_collection, coll(folder));
  assert.deepEqual((await c.uploads.find(y.id)).upload_collection, coll(other));
  assert.deepEqual((await c.uploads.find(z.id)).upload_collection, coll(other));

  // null = root
  const res2 = await c.uploads.bulkSetUploadCollection({ upload_collection: null, uploads: [ref(x), ref(y), ref(z)] });
  assert.deepEqual(res2, []);
  for (const u of [x, y, z]) assert.equal((await c.uploads.find(u.id)).upload_collection, null);

  await c.uploadCollections.destroy(folder.id);
  await c.uploadCollections.destroy(other.id);
});

test('bulkDestroy deletes the listed uploads; an unknown id does not stop the others', T, async () => {
  const c = srv.client;
  const [d1, d2, keep] = await makeUploads(srv, 3);
  const unknown = generateId();
  const res = await c.uploads.bulkDestroy({ uploads: [ref(d1), { type: 'upload', id: unknown }, ref(d2)] });
  assert.deepEqual(res, []);
  await expectApiError(c.uploads.find(d1.id), 404, 'NOT_FOUND');
  await expectApiError(c.uploads.find(d2.id), 404, 'NOT_FOUND');
  assert.equal((await c.uploads.find(keep.id)).id, keep.id);
  const left = await c.uploads.list({ filter: { ids: [d1.id, d2.id, keep.id].join(',') } });
  assert.deepEqual(left.map((u) => u.id), [keep.id]);
  const gone = await fetch(d1.url);
  await gone.arrayBuffer();
  assert.equal(gone.status, 404, 'a bulk-destroyed upload url answers 404');
});

test('bulk operations with no uploads are rejected with 422', T, async () => {
  const c = srv.client;
  await expectApiError(c.uploads.bulkTag({ tags: ['x'], uploads: [] }), 422);
  await expectApiError(c.uploads.bulkDestroy({ uploads: [] }), 422);
  await expectApiError(c.uploads.bulkSetUploadCollection({ upload_collection: null, uploads: [] }), 422);
});

// ---------------------------------------------------------------------------
// upload collections

/** { label: position } of the children of `parentId` (null = root), in position order, via list. */
async function siblings(c, parentId) {
  const all = await c.uploadCollections.list();
  return all
    .filter((x) => (x.parent?.id ?? null) === parentId)
    .sort((p, q) => p.position - q.position)
    .map((x) => [x.label, x.position]);
}

test('uploadCollections: create, nesting, positions 1..n per parent, list/find', T, async () => {
  const c = srv.client;
  const before = await c.uploadCollections.list();
  for (const x of before) await c.uploadCollections.destroy(x.id).catch(() => {}); // start from an empty tree

  const A = await c.uploadCollections.create({ label: 'A' });
  assert.equal(A.type, 'upload_collection');
  assert.equal(A.label, 'A');
  assert.equal(A.position, 1);
  assert.equal(A.parent, null);
  assert.deepEqual(A.children, []);
  const B = await c.uploadCollections.create({ label: 'B' });
  const C = await c.uploadCollections.create({ label: 'C' });
  assert.deepEqual([B.position, C.position], [2, 3], 'created without position: appended');

  const A1 = await c.uploadCollections.create({ label: 'A1', parent: coll(A) });
  const A2 = await c.uploadCollections.create({ label: 'A2', parent: coll(A) });
  assert.equal(A1.position, 1, 'positions are per parent');
  assert.equal(A2.position, 2);
  assert.deepEqual(A1.parent, coll(A));
  const A1a = await c.uploadCollections.create({ label: 'A1a', parent: coll(A1) });
  assert.equal(A1a.position, 1);

  const fA = await c.uploadCollections.find(A.id);
  assert.deepEqual(fA.children, [coll(A1), coll(A2)], 'children in position order');
  assert.deepEqual((await c.uploadCollections.find(A1.id)).children, [coll(A1a)]);

  // create with an explicit position inserts and shifts the others
  const D = await c.uploadCollections.create({ label: 'D', position: 1 });
  assert.equal(D.position, 1);
  assert.deepEqual(await siblings(c, null), [['D', 1], ['A', 2], ['B', 3], ['C', 4]]);

  // client-supplied id
  const id = generateId();
  const E = await c.uploadCollections.create({ id, label: 'E', parent: coll(A2) });
  assert.equal(E.id, id);

  const all = await c.uploadCollections.list();
  assert.equal(all.length, 8);
  const two = await c.uploadCollections.list({ filter: { ids: [A.id, C.id].join(',') } });
  assert.deepEqual(two.map((x) => x.label).sort(), ['A', 'C']);

  await expectApiError(c.uploadCollections.find(generateId()), 404);
  await expectApiError(c.uploadCollections.create({ label: 'dup', id }), 422);
  await expectApiError(c.uploadCollections.create({ label: 'orphan', parent: { type: 'upload_collection', id: generateId() } }), 422);
});

test('uploadCollections: rename, move to another parent, position change, children order, cycles', T, async () => {
  const c = srv.client;
  const byLabel = async () => Object.fromEntries((await c.uploadCollections.list()).map((x) => [x.label, x]));
  let L = await byLabel();
  assert.deepEqual(await siblings(c, null), [['D', 1], ['A', 2], ['B', 3], ['C', 4]], 'tree from the previous test');

  // rename
  const renamed = await c.uploadCollections.update(L.C.id, { label: 'C renamed' });
  assert.equal(renamed.label, 'C renamed');
  assert.equal(renamed.position, 4);
  await c.uploadCollections.update(L.C.id, { label: 'C' });

  // move B under A: appended there, root renumbered contiguously
  const movedB = await c.uploadCollections.update(L.B.id, { parent: coll(L.A) });
  assert.deepEqual(movedB.parent, coll(L.A));
  assert.equal(movedB.position, 3);
  assert.deepEqual(await siblings(c, null), [['D', 1], ['A', 2], ['C', 3]]);
  assert.deepEqual(await siblings(c, L.A.id), [['A1', 1], ['A2', 2], ['B', 3]]);

  // move within the same parent: C to the front
  const movedC = await c.uploadCollections.update(L.C.id, { position: 1 });
  assert.equal(movedC.position, 1);
  assert.deepEqual(await siblings(c, null), [['C', 1], ['D', 2], ['A', 3]]);

  // move into another parent at a given position
  await c.uploadCollections.update(L.D.id, { parent: coll(L.A), position: 2 });
  assert.deepEqual(await siblings(c, null), [['C', 1], ['A', 2]]);
  assert.deepEqual(await siblings(c, L.A.id), [['A1', 1], ['D', 2], ['A2', 3], ['B', 4]]);

  // back to the root (parent null): appended
  await c.uploadCollections.update(L.D.id, { parent: null });
  assert.deepEqual(await siblings(c, null), [['C', 1], ['A', 2], ['D', 3]]);
  assert.deepEqual(await siblings(c, L.A.id), [['A1', 1], ['A2', 2], ['B', 3]]);

  // reorder children through the parent
  const A = await c.uploadCollections.update(L.A.id, { children: [coll(L.B), coll(L.A2), coll(L.A1)] });
  assert.deepEqual(A.children, [coll(L.B), coll(L.A2), coll(L.A1)]);
  assert.deepEqual(await siblings(c, L.A.id), [['B', 1], ['A2', 2], ['A1', 3]]);
  assert.deepEqual((await c.uploadCollections.find(L.A.id)).children, [coll(L.B), coll(L.A2), coll(L.A1)]);
  // children must be exactly the current children
  await expectApiError(c.uploadCollections.update(L.A.id, { children: [coll(L.B), coll(L.A2)] }), 422);
  await expectApiError(c.uploadCollections.update(L.A.id, { children: [coll(L.B), coll(L.A2), coll(L.A1), coll(L.C)] }), 422);

  // cycles are rejected (A under its own grandchild, or under itself)
  await expectApiError(c.uploadCollections.update(L.A.id, { parent: coll(L.A1a) }), 422, 'INVALID_PARENT');
  await expectApiError(c.uploadCollections.update(L.A.id, { parent: coll(L.A) }), 422, 'INVALID_PARENT');
  L = await byLabel();
  assert.equal(L.A.parent, null, 'a rejected move changes nothing');
  assert.deepEqual(await siblings(c, null), [['C', 1], ['A', 2], ['D', 3]]);
});

test('uploadCollections.reorder moves several collections at once (job → collections)', T, async () => {
  const c = srv.client;
  assert.equal(typeof c.uploadCollections.reorder, 'function');
  const L = Object.fromEntries((await c.uploadCollections.list()).map((x) => [x.label, x]));
  // D to the front of the root; A1 out of A to root position 2; B under D
  const res = await c.uploadCollections.reorder([
    { id: L.D.id, type: 'upload_collection', position: 1, parent: null },
    { id: L.A1.id, type: 'upload_collection', position: 2, parent: null },
    { id: L.B.id, type: 'upload_collection', position: 1, parent: coll(L.D) },
  ]);
  assert.ok(Array.isArray(res), `reorder returns an array, got ${JSON.stringify(res)}`);
  for (const x of res) assert.equal(x.type, 'upload_collection');
  const resIds = res.map((x) => x.id);
  for (const moved of [L.D, L.A1, L.B]) assert.ok(resIds.includes(moved.id), `${moved.label} in the reorder result`);

  assert.deepEqual(await siblings(c, null), [['D', 1], ['A1', 2], ['C', 3], ['A', 4]]);
  assert.deepEqual(await siblings(c, L.A.id), [['A2', 1]]);
  assert.deepEqual(await siblings(c, L.D.id), [['B', 1]]);
  assert.deepEqual(await siblings(c, L.A1.id), [['A1a', 1]], 'A1 keeps its own children');
  assert.deepEqual((await c.uploadCollections.find(L.D.id)).children, [coll(L.B)]);

  // two collections at the same position under the same parent
  await expectApiError(
    c.uploadCollections.reorder([
      { id: L.C.id, position: 1, parent: null },
      { id: L.A.id, position: 1, parent: null },
    ]),
    422,
  );
});

test('uploadCollections.destroy deletes sub-collections; their uploads move to the root', T, async () => {
  const c = srv.client;
  const L = Object.fromEntries((await c.uploadCollections.list()).map((x) => [x.label, x]));
  // tree now: D(B), A1(A1a), C, A(A2(E))
  const [inA, inA2, inE, inC] = await makeUploads(srv, 4);
  await c.uploads.bulkSetUploadCollection({ upload_collection: coll(L.A), uploads: [ref(inA)] });
  await c.uploads.update(inA2.id, { upload_collection: coll(L.A2) });
  await c.uploads.update(inE.id, { upload_collection: coll(L.E) });
  await c.uploads.update(inC.id, { upload_collection: coll(L.C) });
  assert.deepEqual((await c.uploads.find(inE.id)).upload_collection, coll(L.E));

  const gone = await c.uploadCollections.destroy(L.A.id);
  assert.equal(gone.id, L.A.id);
  assert.equal(gone.label, 'A');
  await expectApiError(c.uploadCollections.find(L.A.id), 404);
  await expectApiError(c.uploadCollections.find(L.A2.id), 404);
  await expectApiError(c.uploadCollections.find(L.E.id), 404);
  for (const u of [inA, inA2, inE]) {
    const f = await c.uploads.find(u.id);
    assert.equal(f.upload_collection, null, 'uploads of deleted collections move to the root');
  }
  assert.deepEqual((await c.uploads.find(inC.id)).upload_collection, coll(L.C), 'other collections keep their uploads');

  const labels = (await c.uploadCollections.list()).map((x) => x.label).sort();
  assert.deepEqual(labels, ['A1', 'A1a', 'B', 'C', 'D']);
  assert.deepEqual(await siblings(c, null), [['D', 1], ['A1', 2], ['C', 3]], 'root positions stay 1..n');

  // deleting a middle sibling renumbers the rest
  await c.uploadCollections.destroy(L.A1.id);
  await expectApiError(c.uploadCollections.find(L.A1a.id), 404);
  assert.deepEqual(await siblings(c, null), [['D', 1], ['C', 2]]);
  await expectApiError(c.uploadCollections.destroy(L.A1.id), 404);
});

// ---------------------------------------------------------------------------
// tags, smart tags, saved filters, references

test('uploadTags: create (id = name), list sorted by name with filter[query] and paging', T, async () => {
  const c = srv.client;
  const t = await c.uploadTags.create({ name: 'zebra-created' });
  assert.equal(t.type, 'upload_tag');
  assert.equal(t.id, 'zebra-created');
  assert.equal(t.name, 'zebra-created');
  const again = await c.uploadTags.create({ name: 'zebra-created' });
  assert.equal(again.id, 'zebra-created', 'creating an existing tag returns it');

  await c.uploads.update(pool[5].id, { tags: ['pets-cat', 'pets-dog', 'wild'] });
  const all = await c.uploadTags.list({ page: { limit: 500 } });
  const names = all.map((x) => x.name);
  assert.deepEqual(names, [...names].sort(), 'sorted by name');
  assert.equal(new Set(names).size, names.length, 'each tag once');
  for (const x of all) {
    assert.equal(x.type, 'upload_tag');
    assert.equal(x.id, x.name);
  }
  for (const want of ['zebra-created', 'pets-cat', 'pets-dog', 'wild', 'bulk-one', 'keep', 'shared']) {
    assert.ok(names.includes(want), `${want} in ${JSON.stringify(names)}`);
  }

  const pets = await c.uploadTags.list({ filter: { query: 'pets' } });
  assert.deepEqual(pets.map((x) => x.name), ['pets-cat', 'pets-dog']);
  const raw = await c.uploadTags.rawList({ filter: { query: 'pets' }, page: { offset: 1, limit: 1 } });
  assert.deepEqual(raw.data.map((x) => x.id), ['pets-dog']);
  assert.equal(raw.meta.total_count, 2);
  const none = await c.uploadTags.list({ filter: { query: 'no-such-tag-anywhere' } });
  assert.deepEqual(none, []);

  const paged = await c.uploadTags.rawList({ page: { offset: 0, limit: 2 } });
  assert.equal(paged.data.length, 2);
  assert.equal(paged.meta.total_count, names.length);
  assert.deepEqual(paged.data.map((x) => x.id), names.slice(0, 2));
  const iterated = [];
  for await (const x of c.uploadTags.listPagedIterator({}, { perPage: 3 })) iterated.push(x.name);
  assert.deepEqual(iterated, names);

  // a tag created through the endpoint can be put on an upload
  await c.uploads.update(pool[6].id, { tags: [t.id] });
  assert.deepEqual((await c.uploads.find(pool[6].id)).tags, ['zebra-created']);

  await expectApiError(c.uploadTags.rawList({ page: { limit: 501 } }), 422, 'INVALID_PARAMS');
});

test('uploadSmartTags.list is always empty', T, async () => {
  const c = srv.client;
  assert.deepEqual(await c.uploadSmartTags.list(), []);
  assert.deepEqual(await c.uploadSmartTags.list({ filter: { query: 'cat' }, page: { limit: 10 } }), []);
  const raw = await c.uploadSmartTags.rawList();
  assert.deepEqual(raw.data, []);
  assert.equal(raw.meta?.total_count, 0);
});

test('uploadFilters: create, list, find, update, destroy', T, async () => {
  const c = srv.client;
  const filter = { type: { eq: 'image' }, tags: { anyIn: ['pets-cat'] } };
  const f = await c.uploadFilters.create({ name: 'Cat pictures', filter, shared: false });
  assert.equal(f.type, 'upload_filter');
  assert.equal(f.name, 'Cat pictures');
  assert.deepEqual(f.filter, filter);
  assert.equal(f.shared, false);

  const g = await c.uploadFilters.create({ name: 'Everything', filter: {}, shared: true });
  assert.equal(g.shared, true);

  const listed = await c.uploadFilters.list();
  assert.deepEqual(listed.map((x) => x.id).sort(), [f.id, g.id].sort());
  const found = await c.uploadFilters.find(f.id);
  assert.deepEqual(found, f);

  const newFilter = { format: { in: ['png', 'jpg'] } };
  const u = await c.uploadFilters.update(f.id, { name: 'Pictures', filter: newFilter });
  assert.equal(u.id, f.id);
  assert.equal(u.name, 'Pictures');
  assert.deepEqual(u.filter, newFilter);
  assert.equal(u.shared, false, 'shared left out keeps its value');
  const u2 = await c.uploadFilters.update(f.id, { name: 'Pictures', filter: newFilter, shared: true });
  assert.equal(u2.shared, true);
  assert.deepEqual(await c.uploadFilters.find(f.id), u2);

  const gone = await c.uploadFilters.destroy(f.id);
  assert.equal(gone.id, f.id);
  assert.equal(gone.name, 'Pictures');
  await expectApiError(c.uploadFilters.find(f.id), 404);
  assert.deepEqual((await c.uploadFilters.list()).map((x) => x.id), [g.id]);

  await expectApiError(c.uploadFilters.create({ name: 'no shared', filter: {} }), 422);
  await c.uploadFilters.destroy(g.id);
  assert.deepEqual(await c.uploadFilters.list(), []);
});

test('uploads.references is empty (media-only service); unknown upload is 404', T, async () => {
  const c = srv.client;
  assert.deepEqual(await c.uploads.references(pool[7].id), []);
  assert.deepEqual(await c.uploads.references(pool[7].id, { nested: true, version: 'current' }), []);
  await expectApiError(c.uploads.references(generateId()), 404);
});
