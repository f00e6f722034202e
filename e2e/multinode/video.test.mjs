// Multi-node video acceptance (issue 16): three `assetd serve` nodes sharing one PostgreSQL schema
// and one S3 bucket prefix, one transcode slot each. A video's transcode job is taken from node to
// node by two SIGKILLs: the first node to run it dies while ffmpeg encodes the ladder, and its
// ffmpeg dies with it; the node that takes the job over once the lease expired dies while it
// stores the outputs in the bucket (a partial generation); the third node finishes it. Then: the
// job ran to completion once (one done row, three claims, one run per claim), the upload serves
// the third run's generation, nothing partial was ever served, the sweep (`assetd cleanup`)
// removes the partial generation and nothing else of the stream, so the bucket holds exactly one
// generation, every file of it; the stream decodes whole over HTTP from every node (the killed
// ones restarted on their data directories, whose scratch files are gone); no node panicked.
//
// Only the assetd process is SIGKILLed, not its children: SIGKILL gives assetd no chance to kill
// its ffmpeg (kill_on_drop runs on a drop), so the kernel must (the parent-death signal set in
// src/video/encoder.rs); without it, ffmpeg would run on, reparented, for a transcode no one stores.
//
// Needs ASSETD_TEST_DATABASE_URL and ASSETD_TEST_STORAGE_URL (+ AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY), as multinode.test.mjs; `scripts/test-multinode` provides them. Linux
// only: the test finds each node's ffmpeg through /proc. Each run uses a fresh schema
// `assetd_mnv_<random>` (dropped at the end unless E2E_KEEP_DATA is set) and a fresh prefix in the
// bucket. The tests run in order and share state.
import { after, afterEach, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import pg from 'pg';
import { buildClient } from '@datocms/cma-client-node';
import { assetdBin, getBytes, makeClip, requireEnv, sleep, startServer, withPrefix } from '../harness.mjs';

const VERBOSE = !!process.env.E2E_VERBOSE;
const KEEP = !!process.env.E2E_KEEP_DATA;

// The clip: long enough that the ladder takes seconds even with ultrafast, cheap to make.
const CLIP = { size: '1280x720', fps: 25, seconds: 20 };
const FRAMES = CLIP.fps * CLIP.seconds;
const LADDER = [720, 480, 360];
// 1 s segments: ~70 files per generation, so storing one takes long enough to be cut short.
const VIDEO_ENV = {
  ASSETD_VIDEO_TRANSCODES: '1',
  ASSETD_VIDEO_PRESET: 'ultrafast',
  ASSETD_VIDEO_LADDER: LADDER.join(','),
  ASSETD_VIDEO_SEGMENT_SECONDS: '1',
  // No periodic sweep in the servers: the only sweep is the one the test runs (temporary files
  // are still removed when a server starts).
  ASSETD_CLEANUP_INTERVAL: '0',
};
const NODES = 3;
// The lease is 30 s (jobs/worker.rs): a takeover comes within that of a kill.
const TAKEOVER_TIMEOUT_MS = 75000;
const T = { timeout: 60000 };
const T_KILL = { timeout: 120000 };

const sha256 = (data) => createHash('sha256').update(data).digest('hex');
const secs = (ms) => `${(ms / 1000).toFixed(1)} s`;
const plain = (text) => text.replace(/\x1b\[[0-9;]*m/g, '');

// ---------------------------------------------------------------------------
// shared state

const TOKEN = randomBytes(24).toString('hex');
const SCHEMA = `${process.env.ASSETD_TEST_SCHEMA_PREFIX ?? 'assetd_'}mnv_${randomBytes(5).toString('hex')}`;
const PREFIX = `mnv-${Date.now()}-${randomBytes(3).toString('hex')}`;
const RUN_STARTED = Date.now();

let nodeEnv = null;
let db = null;
let s3 = null; // where the nodes' blobs are: { endpoint, bucket, region, root }
let workDir = null;
let clipPath = null;
const nodes = []; // every node started, killed ones included: { name, server, client, alive }
let failed = false;

let video = null; // the upload as created
let jobId = null; // its transcode job
let playbackId = null;
// One record per kill: { victim, attempt, at, ladder, ffmpeg: [pids], scratch, orphans, stored, generation }
const kills = [];
let finisher = null; // the node whose run finished the job
let served = null; // { generation, outputs } of the finished job

// ---------------------------------------------------------------------------
// helpers

async function query(sql, params) {
  return (await db.query(sql, params)).rows;
}

async function startNode(name, extraEnv = {}) {
  const server = await startServer({ env: { ...nodeEnv, ...extraEnv }, healthTimeoutMs: 60000 });
  return { name, server, client: buildClient({ apiToken: TOKEN, baseUrl: server.baseUrl }), alive: true };
}

const liveNodes = () => nodes.filter((n) => n.alive);

/** Polls `probe` until it returns something truthy; fails with `what` after `timeoutMs`. */
async function waitFor(what, probe, { timeoutMs = 60000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`${what}: not within ${secs(timeoutMs)}`);
    await sleep(intervalMs);
  }
}

async function transcodeJob() {
  const [job] = await query(
    'SELECT id, state, attempts::int AS attempts, result_status::int AS result_status, result_payload FROM jobs WHERE id = $1',
    [jobId],
  );
  return job;
}

// --- processes (Linux /proc)

/** Every process: { pid, ppid, state, argv }. */
function processes() {
  const list = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      list.push({ pid: Number(entry), state: fields[0], ppid: Number(fields[1]), argv });
    } catch {
      // gone meanwhile
    }
  }
  return list;
}

/** The ladder ffmpeg (the one writing `-master_pl_name`) among `pid`'s children, or null. */
function ladderFfmpeg(pid) {
  return processes().find((p) => p.ppid === pid && p.argv.includes('-master_pl_name')) ?? null;
}

/** Whether `pid` still runs the ladder ffmpeg of the dead node (not a zombie, not a reused pid). */
function stillRunning(pid) {
  const p = processes().find((q) => q.pid === pid);
  return !!p && p.state !== 'Z' && p.argv.includes('-master_pl_name');
}

/** The node whose ladder ffmpeg runs now, with that process. */
function transcodingNode() {
  for (const n of liveNodes()) {
    const ffmpeg = ladderFfmpeg(n.server.child.pid);
    if (ffmpeg) return { node: n, ffmpeg };
  }
  return null;
}

/** The transcode scratch directories under a node's data dir, with the segments written there. */
function scratchDirs(node) {
  const tmp = path.join(node.server.dataDir, 'tmp');
  let entries = [];
  try {
    entries = fs.readdirSync(tmp).filter((e) => e.startsWith('transcode-'));
  } catch {
    return [];
  }
  return entries.map((dir) => {
    let segments = 0;
    for (const rung of LADDER) {
      try {
        segments += fs.readdirSync(path.join(tmp, dir, 'out', `${rung}p`)).filter((f) => f.endsWith('.m4s')).length;
      } catch {
        // not started yet
      }
    }
    return { dir: path.join(tmp, dir), segments };
  });
}

/** SIGKILLs a node's assetd process (only it: its children are left as a crash leaves them). */
async function killNode(node) {
  node.alive = false;
  const child = node.server.child;
  const exited = new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', resolve);
  });
  child.kill('SIGKILL');
  await exited;
}

/** Whether the ladder ffmpeg `pid` still runs as `node`'s child. */
function stillRunningOn(node, pid) {
  return processes().some((p) => p.pid === pid && p.ppid === node.server.child.pid && p.state !== 'Z');
}

// --- the bucket (ListObjectsV2 signed with SigV4, so it works against any S3 server)

function s3Location(storageUrl) {
  const m = /^s3:\/\/([^/?]+)(\/[^?]*)?(?:\?(.*))?$/.exec(storageUrl);
  const params = new URLSearchParams(m[3] ?? '');
  const region = params.get('region') ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const endpoint = new URL(params.get('endpoint') ?? `https://s3.${region}.amazonaws.com`);
  const root = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], region, endpoint, root: root ? `${root}/` : '' };
}

const uriEncode = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const xmlText = (s) =>
  s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** Every key under `prefix` of the nodes' storage (relative to it, as assetd names them). */
async function listKeys(prefix) {
  const keys = [];
  let token = null;
  do {
    const params = { 'list-type': '2', prefix: `${s3.root}${prefix}` };
    if (token) params['continuation-token'] = token;
    const canonicalQuery = Object.keys(params)
      .sort()
      .map((k) => `${uriEncode(k)}=${uriEncode(params[k])}`)
      .join('&');
    const uri = `${s3.endpoint.pathname.replace(/\/+$/, '')}/${uriEncode(s3.bucket)}`;
    const amzDate = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const day = amzDate.slice(0, 8);
    const payload = sha256('');
    const headers = { host: s3.endpoint.host, 'x-amz-content-sha256': payload, 'x-amz-date': amzDate };
    if (process.env.AWS_SESSION_TOKEN) headers['x-amz-security-token'] = process.env.AWS_SESSION_TOKEN;
    const names = Object.keys(headers).sort();
    const canonical = ['GET', uri, canonicalQuery, names.map((h) => `${h}:${headers[h]}\n`).join(''), names.join(';'), payload];
    const scope = `${day}/${s3.region}/s3/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical.join('\n'))].join('\n');
    let key = `AWS4${process.env.AWS_SECRET_ACCESS_KEY}`;
    for (const part of [day, s3.region, 's3', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
    const signature = createHmac('sha256', key).update(toSign).digest('hex');
    const { host, ...sent } = headers;
    sent.authorization =
      `AWS4-HMAC-SHA256 Credential=${process.env.AWS_ACCESS_KEY_ID}/${scope}, ` +
      `SignedHeaders=${names.join(';')}, Signature=${signature}`;
    const res = await fetch(`${s3.endpoint.origin}${uri}?${canonicalQuery}`, { headers: sent });
    const body = await res.text();
    assert.equal(res.status, 200, `listing ${prefix} in the bucket: ${res.status} ${body.slice(0, 400)}`);
    for (const m of body.matchAll(/<Key>([^<]*)<\/Key>/g)) keys.push(xmlText(m[1]).slice(s3.root.length));
    token = /<IsTruncated>true<\/IsTruncated>/.test(body) ? xmlText(/<NextContinuationToken>([^<]*)</.exec(body)[1]) : null;
  } while (token);
  return keys.sort();
}

/** The stream outputs of the video in the bucket, by generation: Map(generation → [relative names]). */
async function generations() {
  const byGeneration = new Map();
  for (const key of await listKeys(`video/${video.id}/`)) {
    const [, , generation, ...rest] = key.split('/');
    byGeneration.set(generation, [...(byGeneration.get(generation) ?? []), rest.join('/')]);
  }
  return byGeneration;
}

/** Every file a generation with these outputs (uploads.video_outputs) consists of. */
function expectedFiles(outputs) {
  const names = outputs.mp4.map((m) => `${m.rendition}.mp4`);
  for (const rung of outputs.rungs) {
    names.push(`${rung.name}/index.m3u8`, `${rung.name}/${rung.init}`);
    for (let n = 0; n < rung.segments; n++) names.push(`${rung.name}/seg_${String(n).padStart(5, '0')}.m4s`);
  }
  if (outputs.storyboard) names.push('storyboard.jpg', 'storyboard.png', 'storyboard.webp');
  return names.sort();
}

function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, env });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Log lines of a node about the video (its job's span names the job). */
function logLines(node, pattern) {
  return plain(node.server.readLog())
    .split('\n')
    .filter((l) => l.includes(jobId) && pattern.test(l));
}

/** Kills the transcode mid-way on the node running it: `when(node, ffmpeg)` says the moment. */
async function killTheTranscodingNode(attempt, when) {
  const job = await waitFor(
    `claim ${attempt} of the transcode job`,
    async () => {
      const j = await transcodeJob();
      assert.notEqual(j.state, 'done', `the job finished on claim ${j.attempts} before the kill: ${j.result_payload}`);
      return j.state === 'running' && j.attempts === attempt && j;
    },
    { timeoutMs: TAKEOVER_TIMEOUT_MS },
  );
  const found = await waitFor(`a node running the ladder ffmpeg (claim ${attempt})`, () => transcodingNode(), {
    timeoutMs: 30000,
    intervalMs: 20,
  });
  const { node } = found;
  await when(node, found.ffmpeg);
  const ffmpeg = processes().filter((p) => p.ppid === node.server.child.pid && p.argv[0]?.includes('ffmpeg'));
  const at = Date.now();
  await killNode(node);
  const jobAfter = await transcodeJob();
  assert.deepEqual(
    { state: jobAfter.state, attempts: jobAfter.attempts },
    { state: 'running', attempts: attempt },
    'the kill fell while the job ran',
  );
  const record = {
    victim: node,
    attempt,
    at,
    ladder: found.ffmpeg.pid,
    ffmpeg: ffmpeg.map((p) => p.pid),
    scratch: scratchDirs(node),
    job,
  };
  kills.push(record);
  return record;
}

// ---------------------------------------------------------------------------
// setup and teardown

before(async () => {
  const dbUrl = requireEnv('ASSETD_TEST_DATABASE_URL', 'a PostgreSQL URL (postgres://user@host:port/db)');
  const storageUrl = requireEnv('ASSETD_TEST_STORAGE_URL', 'an S3 URL (s3://bucket?endpoint=…&region=…)');
  requireEnv('AWS_ACCESS_KEY_ID', 'the S3 credentials');
  requireEnv('AWS_SECRET_ACCESS_KEY', 'the S3 credentials');
  assert.ok(fs.existsSync('/proc/self/stat'), 'the test finds ffmpeg processes through /proc (Linux)');
  const nodeStorage = withPrefix(storageUrl, PREFIX);
  s3 = s3Location(nodeStorage);
  nodeEnv = {
    ASSETD_DATABASE_URL: dbUrl,
    ASSETD_DATABASE_SCHEMA: SCHEMA,
    ASSETD_STORAGE_URL: nodeStorage,
    ASSETD_API_TOKEN: TOKEN,
    ...VIDEO_ENV,
  };
  db = new pg.Client({ connectionString: dbUrl });
  await db.connect();
  await db.query(`SET search_path TO "${SCHEMA}"`);

  workDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-mnv-'));
  clipPath = path.join(workDir, 'clip.mp4');
  makeClip(clipPath, CLIP);
  process.stderr.write(`# multinode video: schema ${SCHEMA}, storage ${nodeStorage}\n`);
}, { timeout: 60000 });

afterEach((t) => {
  if (t.passed === false) failed = true;
});

after(async () => {
  // A dead node's ffmpeg still running (a failed test left it): end it with the test.
  for (const k of kills) for (const pid of k.ffmpeg) if (stillRunning(pid)) process.kill(pid, 'SIGKILL');
  const all = nodes;
  if (failed || VERBOSE) {
    for (const n of all) {
      const log = n.server.readLog().split('\n');
      const tail = log.length > 300 ? [`(… ${log.length - 300} earlier lines)`, ...log.slice(-300)] : log;
      process.stderr.write(`\n--- ${n.name} log (${n.server.logPath}) ---\n${tail.join('\n')}\n--- end of ${n.name} log ---\n`);
    }
  }
  await Promise.allSettled(all.map((n) => n.server.stop()));
  if (db) {
    if (KEEP) process.stderr.write(`# multinode video: E2E_KEEP_DATA is set, schema ${SCHEMA} kept\n`);
    else await db.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`).catch(() => {});
    await db.end();
  }
  if (workDir) await fsp.rm(workDir, { recursive: true, force: true });
}, { timeout: 60000 });

// ---------------------------------------------------------------------------
// the tests

test('three nodes with one transcode slot each start on one fresh schema and bucket prefix', T, async (t) => {
  const started = Date.now();
  // One after the other: the concurrent start is multinode.test.mjs's subject.
  for (let i = 0; i < NODES; i++) nodes.push(await startNode(`node-${i}`));
  t.diagnostic(`${NODES} nodes healthy in ${secs(Date.now() - started)}: ${nodes.map((n) => n.server.baseUrl).join(' ')}`);
  for (const n of nodes) assert.deepEqual(await n.client.uploads.list(), [], `${n.name}: a fresh schema`);
});

test('a video is created; its transcode is killed mid-encode, with its node', T_KILL, async (t) => {
  assert.equal(liveNodes().length, NODES, 'the nodes did not start');
  video = await nodes[0].client.uploads.createFromLocalFile({ localPath: clipPath });
  assert.equal(video.mime_type, 'video/mp4');
  const [row] = await query('SELECT video_playback_id FROM uploads WHERE id = $1', [video.id]);
  playbackId = row.video_playback_id;
  assert.match(playbackId ?? '', /^[A-Za-z0-9_-]+$/, 'a playback id from the create');
  const jobs = await query("SELECT id FROM jobs WHERE kind = 'transcode_video' AND payload LIKE $1", [`%${video.id}%`]);
  assert.equal(jobs.length, 1, 'the create queued one transcode job');
  jobId = jobs[0].id;

  // Killed once ffmpeg wrote a few segments (and well before it is done).
  const kill = await killTheTranscodingNode(1, (node) =>
    waitFor('the first segments of the ladder', () => scratchDirs(node).some((d) => d.segments >= 3), {
      timeoutMs: 30000,
      intervalMs: 20,
    }),
  );
  const segments = kill.scratch.reduce((sum, d) => sum + d.segments, 0);
  t.diagnostic(`${kill.victim.name} SIGKILLed mid-encode (claim 1), ${segments} segments in its scratch directory`);
  assert.equal(kill.scratch.length, 1, 'one scratch directory of the transcode on the killed node');
  assert.ok(segments < LADDER.length * CLIP.seconds, `the encode was cut short (${segments} segments)`);
  assert.deepEqual([...(await generations()).keys()], [], 'nothing of the cut encode reached the bucket');

  // Its ffmpeg dies with it (SIGKILL is immediate; allow for a loaded machine).
  assert.ok(kill.ffmpeg.includes(kill.ladder), `the ladder ffmpeg (pid ${kill.ladder}) ran at the kill`);
  const deadline = Date.now() + 5000;
  while (kill.ffmpeg.some(stillRunning) && Date.now() < deadline) await sleep(20);
  kill.orphans = kill.ffmpeg.filter(stillRunning);
  const reparented = kill.orphans.map((pid) => processes().find((p) => p.pid === pid)?.ppid);
  assert.deepEqual(
    kill.orphans.map((pid, i) => `ffmpeg pid ${pid}, now a child of pid ${reparented[i]}`),
    [],
    "the killed node's ffmpeg must die with it (it would take the cores for a transcode no one stores)",
  );
  t.diagnostic(`its ffmpeg (pid ${kill.ffmpeg.join(', ')}) died with it`);
  const survivor = liveNodes()[0];
  const u = await survivor.client.uploads.find(video.id);
  assert.equal(u.mux_playback_id, null, 'no stream is served while the job is pending');
  assert.equal(u.meta?.video?.status, 'preparing');
});

test('the node that takes the job over is killed while it stores the outputs', T_KILL, async (t) => {
  assert.equal(kills.length, 1, 'the first kill did not happen');
  const first = kills[0];
  // The dead run's lease holds the job for up to 30 s after the kill; then another node claims it.
  const kill = await killTheTranscodingNode(2, async (node, ffmpeg) => {
    t.diagnostic(`claim 2 taken by ${node.name} ${secs(Date.now() - first.at)} after the first kill`);
    // ffmpeg done (then the MP4 copies), the outputs are stored one by one: kill at the first.
    await waitFor('the takeover encode to end', () => !stillRunningOn(node, ffmpeg.pid), { timeoutMs: 60000, intervalMs: 20 });
    await waitFor('the first output in the bucket', async () => (await generations()).size > 0, { timeoutMs: 30000, intervalMs: 2 });
  });
  const partial = await generations();
  kill.stored = [...partial.values()].flat();
  t.diagnostic(`${kill.victim.name} SIGKILLed mid-store (claim 2): ${kill.stored.length} files of its generation stored`);
  assert.equal(partial.size, 1, 'the outputs of one generation in the bucket');
  kill.generation = [...partial.keys()][0];

  // Nothing of that generation is served, by any URL.
  const survivor = liveNodes()[0];
  const u = await survivor.client.uploads.find(video.id);
  assert.equal(u.mux_playback_id, null, 'the partial generation is not served');
  assert.equal((await getBytes(`${survivor.server.baseUrl}/video/${playbackId}.m3u8`)).status, 404, 'no master playlist');
  for (const file of new Set([...kill.stored.filter((f) => !f.includes('/')), 'low.mp4', 'storyboard.jpg'])) {
    const url = `${survivor.server.baseUrl}/video/${playbackId}/${file}`;
    assert.equal((await getBytes(url)).status, 404, `not served: ${url}`);
  }
  for (const file of kill.stored.filter((f) => f.includes('/')).concat(`${LADDER[0]}p/index.m3u8`)) {
    const url = `${survivor.server.baseUrl}/video/${playbackId}/${kill.generation}/${file}`;
    assert.equal((await getBytes(url)).status, 404, `not served: ${url}`);
  }
});

test('the last node takes the job over and finishes it', T_KILL, async (t) => {
  assert.equal(kills.length, 2, 'the second kill did not happen');
  const started = Date.now();
  const job = await waitFor(
    'the transcode job to finish',
    async () => {
      const j = await transcodeJob();
      return j.state === 'done' && j;
    },
    { timeoutMs: 100000, intervalMs: 250 },
  );
  [finisher] = liveNodes();
  t.diagnostic(`done ${secs(Date.now() - kills[1].at)} after the second kill (waited ${secs(Date.now() - started)})`);
  assert.equal(liveNodes().length, 1);
  assert.equal(job.attempts, 3, 'claimed three times: two runs killed, the third finished');
  assert.equal(job.result_status, 200, job.result_payload);
  const result = JSON.parse(job.result_payload);
  assert.equal(result.status, 'ready', job.result_payload);
  const [row] = await query('SELECT video_status, video_generation, video_outputs FROM uploads WHERE id = $1', [video.id]);
  assert.equal(row.video_status, 'ready');
  assert.equal(row.video_generation, result.generation, 'the upload serves the generation the job recorded');
  assert.ok(!kills.some((k) => k.generation === row.video_generation), 'a generation of its own, not a killed run\'s');
  served = { generation: row.video_generation, outputs: JSON.parse(row.video_outputs) };
  assert.deepEqual(served.outputs.rungs.map((r) => r.height), LADDER, 'every rung');

  for (const n of liveNodes()) {
    const u = await n.client.uploads.find(video.id);
    assert.equal(u.mux_playback_id, playbackId, `${n.name}: the playback id given at the create`);
    assert.equal(u.meta?.video?.status, 'ready', `${n.name}: stream status`);
    assert.equal(u.mux_mp4_highest_res, 'high', `${n.name}: 720 lines make low, medium and high`);
  }
});

test('the job ran to completion exactly once', T, async (t) => {
  assert.ok(served, 'the job did not finish');
  const states = await query('SELECT kind, state, count(*)::int AS n FROM jobs GROUP BY kind, state ORDER BY kind, state');
  t.diagnostic(`jobs: ${states.map((r) => `${r.kind}/${r.state}=${r.n}`).join(' ')}`);
  assert.deepEqual(
    states.map((r) => `${r.kind}/${r.state}=${r.n}`),
    ['create_upload/done=1', 'transcode_video/done=1'],
    'one create job and one transcode job, both done',
  );
  // Who ran what, from the logs (each line of a run carries its job span).
  const runs = [...kills.map((k) => k.victim), finisher].map((n) => ({
    node: n.name,
    started: logLines(n, /\btranscoding\b/).length,
    encoded: logLines(n, /\btranscoded\b/).length,
    done: logLines(n, /\bjob done\b/).length,
  }));
  t.diagnostic(`runs: ${JSON.stringify(runs)}`);
  assert.deepEqual(
    runs.map(({ started, encoded, done }) => ({ started, encoded, done })),
    [
      { started: 1, encoded: 0, done: 0 }, // killed mid-encode
      { started: 1, encoded: 1, done: 0 }, // killed mid-store
      { started: 1, encoded: 1, done: 1 }, // finished
    ],
    'one run per claim, on three nodes; only the last one finished',
  );
});

test('the sweep removes the partial generation: the bucket holds exactly the served one, whole', T, async (t) => {
  assert.ok(served, 'the job did not finish');
  const expected = expectedFiles(served.outputs);
  const partial = kills[1];
  const before = await generations();
  assert.deepEqual([...before.keys()].sort(), [partial.generation, served.generation].sort(), 'before the sweep');
  assert.deepEqual(before.get(served.generation).sort(), expected, 'every file of the served generation is stored');
  t.diagnostic(
    `before the sweep: the served generation (${expected.length} files) and the killed store's ` +
      `(${before.get(partial.generation).length} files)`,
  );

  // `assetd cleanup` with no grace: the nodes are idle, nothing is being written.
  const dataDir = path.join(workDir, 'cleanup');
  fs.mkdirSync(dataDir, { recursive: true });
  const env = { ...process.env, ...nodeEnv, ASSETD_DATA_DIR: dataDir, ASSETD_CLEANUP_GRACE: '0', RUST_LOG: 'warn' };
  const swept = run(assetdBin(), ['cleanup'], env);
  assert.equal(swept.status, 0, `assetd cleanup: ${swept.stderr}\n${swept.stdout}`);
  const removed = swept.stdout
    .split('\n')
    .map((l) => /^removed blob (\S+)/.exec(l)?.[1])
    .filter(Boolean);
  t.diagnostic(`assetd cleanup: ${swept.stdout.trim().split('\n').at(-1)}`);
  const sweptVideoKeys = removed.filter((k) => k.startsWith('video/'));
  assert.deepEqual(
    sweptVideoKeys.sort(),
    before.get(partial.generation).map((f) => `video/${video.id}/${partial.generation}/${f}`).sort(),
    'the sweep removes the killed store\'s files, and no other file of the stream',
  );
  assert.ok(!removed.some((k) => k.startsWith('originals/')), `no original is removed: ${removed.join(' ')}`);

  const afterSweep = await generations();
  assert.deepEqual([...afterSweep.keys()], [served.generation], 'exactly one generation is left');
  assert.deepEqual(afterSweep.get(served.generation).sort(), expected, 'whole');
});

test('the killed nodes restart on their data directories: their scratch files are gone', T, async (t) => {
  assert.equal(kills.length, 2, 'the kills did not happen');
  for (const kill of kills) {
    assert.deepEqual(kill.ffmpeg.filter(stillRunning), [], `no ffmpeg of ${kill.victim.name} runs`);
    assert.ok(kill.scratch.length > 0, `${kill.victim.name} had a scratch directory at its death`);
    assert.ok(kill.scratch.every((d) => fs.existsSync(d.dir)), `${kill.victim.name}'s scratch directory outlived it`);
    const node = await startNode(`${kill.victim.name}-restarted`, { ASSETD_DATA_DIR: kill.victim.server.dataDir });
    nodes.push(node);
    for (const d of kill.scratch) assert.ok(!fs.existsSync(d.dir), `${node.name} removed ${d.dir} as it started`);
    assert.deepEqual(scratchDirs(node), [], `${node.name}: no transcode scratch directory left`);
  }
  t.diagnostic(`live: ${liveNodes().map((n) => n.name).join(', ')}`);
});

test('the stream decodes whole over HTTP from every node', { timeout: 180000 }, async (t) => {
  assert.ok(served, 'the job did not finish');
  const live = liveNodes();
  assert.equal(live.length, 3, 'the finisher and the two restarted nodes');
  const mp4s = new Map();
  for (const n of live) {
    const master = `${n.server.baseUrl}/video/${playbackId}.m3u8`;
    // Every packet of every rung, fetching each segment.
    const probe = run('ffprobe', [
      '-v', 'error', '-count_packets', '-print_format', 'json', '-show_format',
      '-show_entries', 'stream=index,codec_type,height,nb_read_packets', master,
    ]);
    assert.equal(probe.status, 0, `${n.name}: ffprobe ${master}: ${probe.stderr}`);
    const facts = JSON.parse(probe.stdout);
    const videos = facts.streams.filter((s) => s.codec_type === 'video');
    assert.deepEqual(videos.map((s) => s.height).sort((a, b) => b - a), LADDER, `${n.name}: every rung`);
    assert.deepEqual(videos.map((s) => Number(s.nb_read_packets)), LADDER.map(() => FRAMES), `${n.name}: every frame of every rung`);
    assert.ok(facts.streams.some((s) => s.codec_type === 'audio'), `${n.name}: with its audio`);
    assert.ok(Math.abs(Number(facts.format.duration) - CLIP.seconds) < 0.3, `${n.name}: duration ${facts.format.duration}`);
    // The rung ffmpeg picks, decoded whole with its audio.
    const decode = run('ffmpeg', ['-nostdin', '-v', 'error', '-i', master, '-map', '0:v:0', '-map', '0:a:0', '-f', 'null', '-']);
    assert.equal(decode.status, 0, `${n.name}: ${decode.stderr}`);
    assert.equal(decode.stderr.trim(), '', `${n.name}: no decoding error`);
    for (const rendition of ['low', 'medium', 'high']) {
      const got = await getBytes(`${n.server.baseUrl}/video/${playbackId}/${rendition}.mp4`);
      assert.equal(got.status, 200, `${n.name}: ${rendition}.mp4`);
      const hash = sha256(got.buf);
      assert.equal(mp4s.get(rendition) ?? hash, hash, `${n.name}: ${rendition}.mp4 has the bytes the other nodes serve`);
      mp4s.set(rendition, hash);
    }
  }
  t.diagnostic(`${live.map((n) => n.name).join(', ')}: ${LADDER.length} rungs × ${FRAMES} frames, MP4s identical`);
});

test('no node panicked', T, async (t) => {
  const panics = [];
  for (const n of nodes) {
    const lines = plain(n.server.readLog()).split('\n');
    panics.push(...lines.filter((l) => /panicked/.test(l)).map((l) => `${n.name}: ${l}`));
    const errors = lines.filter((l) => /\bERROR\b/.test(l));
    t.diagnostic(`${n.name}: ${lines.length} log lines, ${errors.length} ERROR`);
    for (const l of errors.slice(0, 3)) t.diagnostic(`  ${l.slice(0, 300)}`);
  }
  assert.deepEqual(panics, []);
  t.diagnostic(`whole run: ${secs(Date.now() - RUN_STARTED)}`);
});
