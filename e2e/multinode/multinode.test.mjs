// Scale-out acceptance (issue 5): three `assetd serve` nodes sharing one PostgreSQL schema and one
// S3 bucket prefix, driven round-robin with the official client. One node is SIGKILLed once about
// a third of the operations were acknowledged, while it runs the create job of a big upload sent
// to it just before; the load goes on against the two survivors. After the job queue drained (the
// big upload's job is taken over once the killed node's lease expired): every acknowledged upload
// is whole and unique, every job is done exactly once, every acknowledged metadata write is
// visible, every derived image was rendered once across the nodes and every node (the killed one
// restarted included) answers it with the same bytes.
//
// Needs ASSETD_TEST_DATABASE_URL (PostgreSQL) and ASSETD_TEST_STORAGE_URL
// (`s3://bucket[/prefix]?endpoint=…&region=…`, with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY);
// `scripts/test-multinode` provides both. Each run uses a fresh schema `assetd_mn_<random>`
// (dropped at the end unless E2E_KEEP_DATA is set) and a fresh prefix in the bucket.
//
// The tests run in order and share state: the load test records what the client saw
// acknowledged, the tests after it hold the database, the API and the bytes against that record.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';
import { buildClient } from '@datocms/cma-client-node';
import {
  startServer, fixture, fileBytes, writeFileIn, getBytes, sleep, pngFromPixels, requireEnv, withPrefix,
} from '../harness.mjs';

const VERBOSE = !!process.env.E2E_VERBOSE;
const KEEP = !!process.env.E2E_KEEP_DATA;

// The load: UPLOADS distinct files, each created and then updated UPDATES times, one write at a
// time per upload (so "the last acknowledged write" is well defined); every TRANSFORM_EVERY-th
// upload (a PNG) also has its `?w=<n>&fm=webp` URLs requested from every live node at once.
// LANES such chains run concurrently, each operation on the next live node (round-robin).
const UPLOADS = 24;
const UPDATES = 2;
const LANES = 5;
const TRANSFORM_EVERY = 4; // index % 4 === 0 → transformed PNG
const JPEG_EVERY = 4; // index % 4 === 3 → JPEG (cat.jpg + a random trailer); the rest are PNGs
const WIDTHS = [24, 40, 64];
const IMAGE_SIZE = [96, 72];
const LOCALES = ['en', 'it'];
const ACCEPT = 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8';
const TOTAL_OPS = UPLOADS * (1 + UPDATES) + Math.ceil(UPLOADS / TRANSFORM_EVERY) * WIDTHS.length;

const NODES = 3;
const VICTIM = 1; // killed mid-load (not the first node: the load starts there)
// At the kill, one big file goes to the victim, and the victim dies while that file's create job
// runs (its worker is woken first): the job's 30 s lease must expire, another node take it over.
const BIG_SIZE = [1600, 1600];
const CATCH_TIMEOUT_MS = 20000;
const WORKERS = 2;

// A job leased by the killed node is taken over once its 30 s lease expired.
const DRAIN_TIMEOUT_MS = 90000;

const T = { timeout: 60000 };
const T_LOAD = { timeout: 180000 };
const T_DRAIN = { timeout: DRAIN_TIMEOUT_MS + 15000 };

const md5 = (buf) => createHash('md5').update(buf).digest('hex');
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, ''); // without terminal colours

// ---------------------------------------------------------------------------
// shared state

const TOKEN = randomBytes(24).toString('hex');
// Under scripts/test, its run prefix: its cleanup drops the schema should this test not get to.
const SCHEMA = `${process.env.ASSETD_TEST_SCHEMA_PREFIX ?? 'assetd_'}mn_${randomBytes(5).toString('hex')}`;
const PREFIX = `mn-${Date.now()}-${randomBytes(3).toString('hex')}`;
const RUN_STARTED = Date.now();

let nodeEnv = null; // the environment every node gets on top of the harness defaults
let db = null; // pg.Client, search_path = SCHEMA
let workDir = null; // the generated files
const nodes = []; // { name, server, baseUrl, client, alive, inFlight: Set<op record> }
const retired = []; // killed nodes (their logs are printed, their temp dirs removed)
let failed = false;

// { index, name, localPath, bytes, md5, transform, upload, acked, writes: [{ v, acked, node }] }
const files = [];
let ready = false; // the nodes started and share the schema
const load = { ops: [], acked: 0, transformsInFlight: 0, rr: 0, started: 0, ended: 0, ran: false };
const kill = {
  threshold: Math.round(TOTAL_OPS / 3),
  requested: false,
  promise: null,
  done: false,
  time: 0,
  chain: null, // the chain of the big file, sent to the victim just before the kill
  caught: null, // how the big file's create job stood when the victim died
};
// Transform URLs by origin-free `path?query`: { file, width, sha256, length, misses, cache: [] }
const transforms = new Map();

// ---------------------------------------------------------------------------
// helpers

async function startNode(name) {
  const server = await startServer({ env: nodeEnv, healthTimeoutMs: 60000 });
  // startServer's own client carries the token it generated, which opts.env overrides: every
  // node gets a client with the shared token instead.
  const client = buildClient({ apiToken: TOKEN, baseUrl: server.baseUrl });
  return { name, server, baseUrl: server.baseUrl, client, alive: true, inFlight: new Set() };
}

const liveNodes = () => nodes.filter((n) => n.alive);

/** The next live node, round-robin. */
function pick() {
  const live = liveNodes();
  return live[load.rr++ % live.length];
}

/** An asset URL handed out by one node, on another node (every node serves the same paths). */
function onNode(url, node) {
  const u = new URL(url);
  return `${node.baseUrl}${u.pathname}${u.search}`;
}

function describeError(err) {
  const status = err?.response?.status;
  const cause = err?.cause?.code ?? err?.cause?.message;
  const first = String(err?.message ?? err).split('\n')[0].slice(0, 300);
  return `${err?.name ?? 'Error'}${status ? ` ${status}` : ''}: ${first}${cause ? ` (cause: ${cause})` : ''}`;
}

/**
 * Runs one client operation against `opNodes` and records whether it was acknowledged (completed
 * successfully from the client's view). Failures are returned, not thrown: failures of operations
 * on the killed node are expected; the load test checks there are no others.
 */
async function op(kind, label, opNodes, fn) {
  const rec = { kind, label, nodes: opNodes.map((n) => n.name), started: Date.now(), ended: 0, ok: false, error: null };
  load.ops.push(rec);
  for (const n of opNodes) n.inFlight.add(rec);
  try {
    const value = await fn();
    rec.ok = true;
    load.acked += 1;
    return { ok: true, value };
  } catch (err) {
    rec.error = describeError(err);
    return { ok: false, error: err };
  } finally {
    rec.ended = Date.now();
    for (const n of opNodes) n.inFlight.delete(rec);
    maybeKill();
  }
}

/**
 * Once `kill.threshold` operations were acknowledged, sends the big file to the victim and
 * SIGKILLs the victim as soon as that file's create job runs. Transforms are held back around the
 * kill (a render the kill cuts short is rightly rendered again, which the rendered-once check could
 * not tell from a duplicate); uploads and updates keep flowing to the victim until it dies, so
 * some die with it.
 */
function maybeKill() {
  if (kill.requested || load.acked < kill.threshold) return;
  kill.requested = true;
  kill.promise = (async () => {
    while (load.transformsInFlight > 0) await sleep(10);
    const victim = nodes[VICTIM];
    const big = files.find((f) => f.big);
    kill.chain = runChain(big, victim);
    // Wait until the big file's create job runs (or give up and kill anyway).
    const deadline = Date.now() + CATCH_TIMEOUT_MS;
    for (;;) {
      const rows = await query(
        "SELECT id, state, attempts::int AS attempts FROM jobs WHERE kind = 'create_upload' AND payload LIKE $1",
        [`%${big.name}%`],
      );
      if (rows[0]?.state === 'running' || rows[0]?.state === 'done' || Date.now() > deadline) {
        kill.caught = rows[0] ? { ...rows[0], waited: CATCH_TIMEOUT_MS - (deadline - Date.now()) } : null;
        break;
      }
      await sleep(5);
    }
    victim.alive = false; // nothing new is routed to it
    kill.inFlight = [...victim.inFlight].map((r) => `${r.kind} ${r.label}`);
    kill.ackedBefore = load.acked;
    kill.time = Date.now();
    const child = victim.server.child;
    const exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', resolve);
    });
    child.kill('SIGKILL');
    await exited;
    kill.done = true;
  })();
}

/** Waits while a kill is under way; then counts a transform as in flight. */
async function transformGate() {
  if (kill.requested) await kill.promise;
  load.transformsInFlight += 1;
}

// --- generated files

/** An 8-bit RGB PNG of random pixels: every file, and every derived image of it, differs. */
function noisePng(width, height) {
  return pngFromPixels(width, height, randomBytes(width * height * 3));
}

/** Width and height of a WebP (VP8, VP8L, VP8X), or null. */
function webpSize(buf) {
  if (buf.length < 30 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WEBP') return null;
  const kind = buf.toString('ascii', 12, 16);
  if (kind === 'VP8 ') return { width: buf.readUInt16LE(26) & 0x3fff, height: buf.readUInt16LE(28) & 0x3fff };
  if (kind === 'VP8L') {
    const bits = buf.readUInt32LE(21);
    return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 };
  }
  if (kind === 'VP8X') return { width: buf.readUIntLE(24, 3) + 1, height: buf.readUIntLE(27, 3) + 1 };
  return null;
}

/** The metadata of write `v` of a file: alt/title in every locale, and tags. */
function writeFor(file, v) {
  const dfm = {};
  for (const l of LOCALES) dfm[l] = { alt: `${l} alt ${file.name} v${v}`, title: `${l} title ${file.name} v${v}` };
  return { default_field_metadata: dfm, tags: ['mn', `f${file.index}`, `v${v}`] };
}

/** The part of an upload `writeFor` sets. */
function writtenPart(u) {
  const dfm = {};
  for (const l of LOCALES) {
    dfm[l] = { alt: u.default_field_metadata?.[l]?.alt ?? null, title: u.default_field_metadata?.[l]?.title ?? null };
  }
  return { default_field_metadata: dfm, tags: u.tags };
}

// --- the load

async function runChain(file, createNode = null) {
  const node = createNode ?? pick();
  const created = await op('create', file.name, [node], async () => {
    const u = await node.client.uploads.createFromLocalFile({ localPath: file.localPath, ...writeFor(file, 0) });
    assert.equal(u.md5, file.md5, `create ${file.name} on ${node.name}: md5 of the answer`);
    assert.deepEqual(writtenPart(u), writeFor(file, 0), `create ${file.name} on ${node.name}: metadata of the answer`);
    return u;
  });
  file.writes.push({ v: 0, acked: created.ok, node: node.name });
  if (!created.ok) return;
  file.upload = created.value;
  file.acked = true;

  for (let v = 1; v <= UPDATES; v++) {
    if (file.transform && v === 2) await requestTransforms(file);
    const n = pick();
    const body = writeFor(file, v);
    const updated = await op('update', `${file.name} v${v}`, [n], async () => {
      const u = await n.client.uploads.update(file.upload.id, body);
      assert.deepEqual(writtenPart(u), body, `update ${file.name} v${v} on ${n.name}: the answer`);
      return u;
    });
    file.writes.push({ v, acked: updated.ok, node: n.name });
    if (!updated.ok) break; // no write after one that may still land later
  }
  if (file.transform && !file.transformed) await requestTransforms(file);
}

/** Each width's URL from every live node at once: the nodes race to render the same image. */
async function requestTransforms(file) {
  file.transformed = true;
  const assetPath = new URL(file.upload.url).pathname;
  for (const width of WIDTHS) {
    await transformGate();
    try {
      const live = liveNodes();
      const key = `${assetPath}?w=${width}&fm=webp`;
      await op('transform', `${file.name} w=${width}`, live, async () => {
        const got = await Promise.all(live.map((n) => getBytes(`${n.baseUrl}${key}`, { headers: { Accept: ACCEPT } })));
        got.forEach((g, i) => {
          assert.equal(g.status, 200, `GET ${key} on ${live[i].name}: ${g.status} ${g.buf.toString('utf8', 0, 400)}`);
          assert.match(g.headers.get('content-type') ?? '', /^image\/webp\b/, `GET ${key} on ${live[i].name}: content-type`);
        });
        const hashes = got.map((g) => sha256(g.buf));
        assert.ok(
          hashes.every((h) => h === hashes[0]),
          `GET ${key}: different bytes from different nodes: ${live.map((n, i) => `${n.name}=${hashes[i].slice(0, 12)}`)}`,
        );
        const size = webpSize(got[0].buf);
        assert.equal(size?.width, width, `GET ${key}: WebP width (${JSON.stringify(size)})`);
        const cache = got.map((g, i) => `${live[i].name}:${g.headers.get('x-cache') ?? '-'}`);
        transforms.set(key, {
          file,
          width,
          sha256: hashes[0],
          length: got[0].buf.length,
          misses: got.filter((g) => g.headers.get('x-cache') === 'MISS').length,
          cache,
        });
      });
    } finally {
      load.transformsInFlight -= 1;
    }
  }
}

async function query(sql, params) {
  return (await db.query(sql, params)).rows;
}

/** What each test needs from the load; fails clearly when an earlier step did not run. */
function needLoad() {
  assert.ok(load.ran, 'the load did not run (an earlier test failed)');
}

// ---------------------------------------------------------------------------
// setup and teardown

before(async () => {
  const dbUrl = requireEnv('ASSETD_TEST_DATABASE_URL', 'a PostgreSQL URL (postgres://user@host:port/db)');
  const storageUrl = requireEnv('ASSETD_TEST_STORAGE_URL', 'an S3 URL (s3://bucket?endpoint=…&region=…)');
  requireEnv('AWS_ACCESS_KEY_ID', 'the S3 credentials');
  requireEnv('AWS_SECRET_ACCESS_KEY', 'the S3 credentials');
  nodeEnv = {
    ASSETD_DATABASE_URL: dbUrl,
    ASSETD_DATABASE_SCHEMA: SCHEMA,
    ASSETD_STORAGE_URL: withPrefix(storageUrl, PREFIX),
    ASSETD_API_TOKEN: TOKEN,
    ASSETD_WORKERS: String(WORKERS),
  };

  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await db.query(`SET search_path TO "${SCHEMA}"`);
  const existing = await query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [SCHEMA]);
  assert.equal(existing.length, 0, `schema ${SCHEMA} exists already`);

  workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-mn-'));
  const jpeg = fileBytes(await fixture('cat.jpg'));
  for (let index = 0; index < UPLOADS; index++) {
    const isJpeg = index % JPEG_EVERY === JPEG_EVERY - 1;
    const name = `mn-${String(index).padStart(2, '0')}.${isJpeg ? 'jpg' : 'png'}`;
    // JPEG readers stop at the end-of-image marker: the random trailer only changes the md5.
    const bytes = isJpeg ? Buffer.concat([jpeg, randomBytes(64)]) : noisePng(...IMAGE_SIZE);
    files.push({
      index,
      name,
      bytes,
      md5: md5(bytes),
      localPath: writeFileIn(workDir, name, bytes),
      transform: index % TRANSFORM_EVERY === 0,
      upload: null,
      acked: false,
      transformed: false,
      writes: [],
    });
  }
  const bigBytes = noisePng(...BIG_SIZE);
  const bigName = `mn-${UPLOADS}-big.png`;
  files.push({
    index: UPLOADS,
    name: bigName,
    bytes: bigBytes,
    md5: md5(bigBytes),
    localPath: writeFileIn(workDir, bigName, bigBytes),
    transform: false,
    big: true,
    upload: null,
    acked: false,
    transformed: false,
    writes: [],
  });
  assert.equal(new Set(files.map((f) => f.md5)).size, files.length, 'generated files must have distinct md5s');
  process.stderr.write(`# multinode: schema ${SCHEMA}, storage ${nodeEnv.ASSETD_STORAGE_URL}\n`);
});

afterEach((t) => {
  if (t.passed === false) failed = true;
});

after(async () => {
  const all = [...nodes, ...retired].filter(Boolean);
  if (failed || VERBOSE) {
    for (const n of all) {
      const log = n.server.readLog().split('\n');
      const tail = log.length > 400 ? [`(… ${log.length - 400} earlier lines)`, ...log.slice(-400)] : log;
      process.stderr.write(`\n--- ${n.name} log (${n.server.logPath}) ---\n${tail.join('\n')}\n--- end of ${n.name} log ---\n`);
    }
  }
  await Promise.allSettled(all.map((n) => n.server.stop()));
  if (db) {
    if (KEEP) {
      process.stderr.write(`# multinode: E2E_KEEP_DATA is set, schema ${SCHEMA} kept\n`);
    } else {
      await db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch((err) => {
        process.stderr.write(`# multinode: could not drop schema ${SCHEMA}: ${err.message}\n`);
      });
    }
    await db.end();
  }
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
}, { timeout: 60000 });

// ---------------------------------------------------------------------------
// the tests

test('three nodes start at once on one fresh schema and bucket prefix', T, async (t) => {
  const started = Date.now();
  const names = Array.from({ length: NODES }, (_, i) => `node-${i}`);
  const results = await Promise.allSettled(names.map((name) => startNode(name)));
  // Why a node failed: the error chain anyhow printed (the log without its backtrace).
  const errors = results.flatMap((r, i) => {
    if (r.status === 'fulfilled') return [];
    const text = plain(r.reason?.message ?? String(r.reason));
    const at = text.indexOf('Error: ');
    const chain = (at >= 0 ? text.slice(at) : text).split('Stack backtrace')[0].split('\n');
    const lines = chain.map((l) => l.trim()).filter(Boolean);
    return [`${names[i]}: ${lines[0]}: ${lines.at(-1)}`];
  });
  // A node that failed is started again on its own, so the load and its checks still run; the
  // failure is reported below.
  for (const [i, r] of results.entries()) {
    nodes[i] = r.status === 'fulfilled' ? r.value : await startNode(names[i]);
  }
  t.diagnostic(`3 nodes healthy in ${secs(Date.now() - started)}: ${nodes.map((n) => `${n.name}=${n.baseUrl}`).join(' ')}`);
  for (const e of errors) t.diagnostic(`started again alone after failing at the concurrent start: ${e}`);

  const tables = await query(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 AND table_name IN ('uploads', 'jobs')",
    [SCHEMA],
  );
  assert.equal(tables.length, 2, `the nodes must have created their tables in ${SCHEMA}`);
  // Each node accepts the shared token and sees the same (empty) media area.
  for (const n of nodes) {
    const list = await n.client.uploads.list();
    assert.deepEqual(list, [], `${n.name}: a fresh schema has no uploads`);
  }
  ready = true;
  assert.deepEqual(errors, [], 'every node must start when all start at once');
});

test('load over the nodes, one of them SIGKILLed mid-way', T_LOAD, async (t) => {
  assert.ok(ready, 'the nodes did not start on one schema (see the first test)');
  load.started = Date.now();
  const queue = files.filter((f) => !f.big);
  let next = 0;
  await Promise.all(
    Array.from({ length: LANES }, async () => {
      while (next < queue.length) await runChain(queue[next++]);
    }),
  );
  if (kill.promise) await kill.promise;
  if (kill.chain) await kill.chain;
  load.ended = Date.now();
  load.ran = true;

  const byKind = {};
  for (const r of load.ops) {
    const k = (byKind[r.kind] ??= { ok: 0, failed: 0, ms: 0 });
    if (r.ok) k.ok += 1;
    else k.failed += 1;
    k.ms += r.ended - r.started;
  }
  t.diagnostic(`load: ${load.ops.length} operations in ${secs(load.ended - load.started)}, ${load.acked} acknowledged`);
  for (const [kind, k] of Object.entries(byKind)) {
    t.diagnostic(`  ${kind}: ${k.ok} acknowledged, ${k.failed} failed, mean ${secs(k.ms / (k.ok + k.failed))}`);
  }
  assert.ok(kill.done, `the victim was never killed (${load.acked} acknowledged, threshold ${kill.threshold})`);
  t.diagnostic(
    `${nodes[VICTIM].name} SIGKILLed at +${secs(kill.time - load.started)} after ${kill.ackedBefore} acknowledgements; ` +
      `in flight on it: ${kill.inFlight.length ? kill.inFlight.join(', ') : 'nothing'}`,
  );
  t.diagnostic(`the big file's create job when the victim died: ${JSON.stringify(kill.caught)}`);
  const failures = load.ops.filter((r) => !r.ok);
  for (const r of failures) t.diagnostic(`  failed: ${r.kind} ${r.label} on ${r.nodes.join('+')}: ${r.error}`);

  // Only operations in flight on the killed node may fail.
  const victimName = nodes[VICTIM].name;
  const unexpected = failures.filter((r) => !(r.nodes.includes(victimName) && r.started <= kill.time));
  assert.deepEqual(
    unexpected.map((r) => `${r.kind} ${r.label} on ${r.nodes.join('+')}: ${r.error}`),
    [],
    'operations on surviving nodes must not fail',
  );
  assert.ok(load.ops.some((r) => r.ok && r.started > kill.time), 'the load must go on after the kill');
  assert.ok(transforms.size > 0, 'some transforms must have been requested');
});

test('the job queue drains, jobs of the killed node included', T_DRAIN, async (t) => {
  needLoad();
  const started = Date.now();
  let pending = null;
  for (;;) {
    pending = await query("SELECT id, kind, state, attempts, locked_until FROM jobs WHERE state IN ('queued', 'running')");
    if (pending.length === 0) break;
    if (Date.now() - started > DRAIN_TIMEOUT_MS) break;
    await sleep(500);
  }
  assert.deepEqual(pending, [], `jobs still queued or running after ${secs(DRAIN_TIMEOUT_MS)}`);
  t.diagnostic(`queue empty ${secs(Date.now() - started)} after the load (${secs(Date.now() - kill.time)} after the kill)`);
  if (kill.caught) {
    const [job] = await query('SELECT state, attempts::int AS attempts FROM jobs WHERE id = $1', [kill.caught.id]);
    t.diagnostic(
      `the big file's create job (${kill.caught.state} at the kill) ended ${job.state} after ${job.attempts} claims` +
        (job.attempts > 1 ? ': taken over once the killed node\'s lease expired' : ''),
    );
  }

  // The killed node rejoins (a fresh process on a new port) and serves what the others wrote.
  const victim = nodes[VICTIM];
  retired.push({ ...victim });
  const restarted = await startNode(`${victim.name}-restarted`);
  nodes[VICTIM] = restarted;
  t.diagnostic(`${victim.name} restarted as ${restarted.name} at ${restarted.baseUrl}`);
});

test('every acknowledged upload exists and is whole, on every node', T, async (t) => {
  needLoad();
  const acked = files.filter((f) => f.acked);
  assert.ok(acked.length >= UPLOADS / 2, `only ${acked.length} of ${UPLOADS} creates were acknowledged`);
  for (const f of acked) {
    for (const n of liveNodes()) {
      const u = await n.client.uploads.find(f.upload.id);
      assert.equal(u.md5, f.md5, `${f.name} via ${n.name}: md5 attribute`);
      assert.equal(u.size, f.bytes.length, `${f.name} via ${n.name}: size attribute`);
      assert.equal(u.path, f.upload.path, `${f.name} via ${n.name}: path`);
      const got = await getBytes(onNode(u.url, n));
      assert.equal(got.status, 200, `GET ${f.name} from ${n.name}: ${got.status}`);
      assert.equal(md5(got.buf), f.md5, `GET ${f.name} from ${n.name}: md5 of the bytes`);
    }
  }
  t.diagnostic(`${acked.length} acknowledged uploads checked on ${liveNodes().length} nodes`);
});

test('no upload is duplicated', T, async (t) => {
  needLoad();
  const byMd5 = new Map(files.map((f) => [f.md5, f]));
  const listed = await liveNodes()[0].client.uploads.list({ page: { limit: 500 } });
  const rows = await query('SELECT id, md5, path, blob_key FROM uploads ORDER BY seq');
  assert.equal(listed.length, rows.length, 'GET /uploads and the uploads table must agree');

  const strangers = rows.filter((r) => !byMd5.has(r.md5)).map((r) => `${r.id} ${r.path} ${r.md5}`);
  assert.deepEqual(strangers, [], 'every upload must be one of the generated files');
  for (const column of ['md5', 'path', 'blob_key', 'id']) {
    const seen = new Map();
    for (const r of rows) seen.set(r[column], [...(seen.get(r[column]) ?? []), r.id]);
    const dups = [...seen].filter(([, ids]) => ids.length > 1).map(([v, ids]) => `${v}: ${ids.join(', ')}`);
    assert.deepEqual(dups, [], `no two uploads may share a ${column}`);
  }
  assert.equal(rows.length, new Set(rows.map((r) => r.md5)).size, 'uploads = distinct md5s');

  const ids = new Set(rows.map((r) => r.id));
  const missing = files.filter((f) => f.acked && !ids.has(f.upload.id)).map((f) => f.name);
  assert.deepEqual(missing, [], 'every acknowledged upload must be listed');
  const extra = rows.filter((r) => !byMd5.get(r.md5).acked).map((r) => byMd5.get(r.md5).name);
  const lost = files.filter((f) => !f.acked && !rows.some((r) => r.md5 === f.md5)).map((f) => f.name);
  t.diagnostic(
    `${rows.length} uploads for ${UPLOADS} files: ${files.filter((f) => f.acked).length} acknowledged, ` +
      `${extra.length} created though the client saw the create fail (${extra.join(', ') || '-'}), ` +
      `${lost.length} never created (${lost.join(', ') || '-'})`,
  );
});

test('every job ran to completion exactly once', T, async (t) => {
  needLoad();
  const states = await query('SELECT state, count(*)::int AS n FROM jobs GROUP BY state ORDER BY state');
  t.diagnostic(`jobs by state: ${states.map((r) => `${r.state}=${r.n}`).join(' ')}`);
  assert.deepEqual(
    states.filter((r) => r.state !== 'done'),
    [],
    'every job must be done (none queued, running or dead)',
  );
  const kinds = await query(
    `SELECT kind, count(*)::int AS n, sum(CASE WHEN attempts > 1 THEN 1 ELSE 0 END)::int AS retried,
            max(attempts)::int AS max_attempts
       FROM jobs GROUP BY kind ORDER BY kind`,
  );
  for (const k of kinds) t.diagnostic(`  ${k.kind}: ${k.n} jobs, ${k.retried} claimed more than once (max ${k.max_attempts})`);
  const badResults = await query(
    `SELECT id, kind, result_status, left(result_payload, 300) AS payload FROM jobs
      WHERE result_status IS NULL OR result_status <> 200`,
  );
  assert.deepEqual(badResults, [], 'every job must have succeeded (result status 200)');

  // Each create job made exactly one upload, each upload came from one create job.
  const [{ n: uploads }] = await query('SELECT count(*)::int AS n FROM uploads');
  const creates = kinds.find((k) => k.kind === 'create_upload')?.n ?? 0;
  assert.equal(creates, uploads, 'create_upload jobs = uploads');
  const updates = kinds.find((k) => k.kind === 'update_upload')?.n ?? 0;
  const ackedUpdates = load.ops.filter((r) => r.kind === 'update' && r.ok).length;
  const issuedUpdates = load.ops.filter((r) => r.kind === 'update').length;
  assert.ok(
    updates >= ackedUpdates && updates <= issuedUpdates,
    `update_upload jobs (${updates}) must be between the acknowledged (${ackedUpdates}) and the issued (${issuedUpdates}) updates`,
  );
  const otherKinds = kinds.filter((k) => !['create_upload', 'update_upload'].includes(k.kind));
  assert.deepEqual(otherKinds, [], 'no other kind of job was asked for');
});

test('acknowledged metadata writes are visible as last written', T, async (t) => {
  needLoad();
  const byMd5 = new Map(files.map((f) => [f.md5, f]));
  const rows = await query('SELECT id, md5 FROM uploads');
  const live = liveNodes();
  let checked = 0;
  let unsettled = 0;
  for (const [i, r] of rows.entries()) {
    const f = byMd5.get(r.md5);
    // What may be there: the last acknowledged write, or a later write whose answer was lost
    // (its job may have run). A file whose create was not acknowledged has only write 0.
    const lastAcked = f.writes.findLastIndex((w) => w.acked);
    const candidates = f.writes.slice(Math.max(lastAcked, 0)).map((w) => w.v);
    if (candidates.length > 1 || lastAcked < 0) unsettled += 1;
    const n = live[i % live.length];
    const u = await n.client.uploads.find(r.id);
    const actual = writtenPart(u);
    const match = candidates.find((v) => {
      try {
        assert.deepEqual(actual, writeFor(f, v));
        return true;
      } catch {
        return false;
      }
    });
    assert.ok(
      match !== undefined,
      `${f.name} (${r.id}) via ${n.name}: expected write ${candidates.map((v) => `v${v}`).join(' or ')} ` +
        `(writes: ${JSON.stringify(f.writes)}), got ${JSON.stringify(actual)}`,
    );
    checked += 1;
  }
  t.diagnostic(`${checked} uploads checked, ${unsettled} with a write whose answer was lost`);
});

test('of the nodes racing for a transform URL, one renders it and the others read its result', T, async (t) => {
  needLoad();
  if (VERBOSE) for (const [key, tr] of transforms) t.diagnostic(`  ${key} ${tr.cache.join(' ')}`);
  const misses = {};
  for (const tr of transforms.values()) misses[tr.misses] = (misses[tr.misses] ?? 0) + 1;
  t.diagnostic(`${transforms.size} races, by number of rendering nodes (X-Cache: MISS): ${JSON.stringify(misses)}`);
  const multi = [...transforms].filter(([, tr]) => tr.misses !== 1).map(([key, tr]) => `${key}: ${tr.cache.join(' ')}`);
  assert.deepEqual(multi, [], 'exactly one X-Cache: MISS per URL (the others answer the stored image: HIT)');
});

test('every derived image was rendered once across the nodes', T, async (t) => {
  needLoad();
  let rows;
  try {
    rows = await query('SELECT key, state, renders::int AS renders FROM derived_images ORDER BY key');
  } catch (err) {
    if (err.code === '42P01') {
      assert.fail(`table derived_images does not exist in ${SCHEMA}: the nodes do not coordinate renders through PostgreSQL yet`);
    }
    throw err;
  }
  const renders = {};
  for (const r of rows) renders[r.renders] = (renders[r.renders] ?? 0) + 1;
  t.diagnostic(
    `${transforms.size} transform URLs, ${rows.length} derived_images rows, ` +
      `rows by renders: ${JSON.stringify(renders)}`,
  );
  assert.deepEqual(
    rows.filter((r) => r.renders !== 1 || r.state !== 'stored').map((r) => `${r.key} ${r.state} renders=${r.renders}`),
    [],
    'every derived image must be stored, rendered exactly once',
  );
  assert.equal(rows.length, transforms.size, 'one derived_images row per distinct transform URL');
});

test('every transform URL answers the same bytes from every node', T, async (t) => {
  needLoad();
  const live = liveNodes();
  for (const [key, tr] of transforms) {
    const got = await Promise.all(live.map((n) => getBytes(`${n.baseUrl}${key}`, { headers: { Accept: ACCEPT } })));
    got.forEach((g, i) => {
      assert.equal(g.status, 200, `GET ${key} on ${live[i].name}: ${g.status} ${g.buf.toString('utf8', 0, 300)}`);
      assert.equal(sha256(g.buf), tr.sha256, `GET ${key} on ${live[i].name}: bytes differ from the first answer`);
      assert.equal(g.headers.get('x-cache'), 'HIT', `GET ${key} on ${live[i].name}: a stored image must not be rendered again`);
    });
  }
  t.diagnostic(`${transforms.size} URLs × ${live.length} nodes (${live.map((n) => n.name).join(', ')}) identical`);
});

test('no node panicked', T, async (t) => {
  needLoad();
  const all = [...nodes, ...retired].filter(Boolean);
  const panics = [];
  for (const n of all) {
    const lines = plain(n.server.readLog()).split('\n');
    panics.push(...lines.filter((l) => /panicked/.test(l)).map((l) => `${n.name}: ${l}`));
    const errors = lines.filter((l) => /\bERROR\b/.test(l));
    const warns = lines.filter((l) => /\bWARN\b/.test(l));
    t.diagnostic(`${n.name}: ${lines.length} log lines, ${errors.length} ERROR, ${warns.length} WARN`);
    for (const l of [...errors, ...warns].slice(0, 5)) t.diagnostic(`  ${l.slice(0, 300)}`);
  }
  assert.deepEqual(panics, []);
  t.diagnostic(`whole run: ${secs(Date.now() - RUN_STARTED)}`);
});
