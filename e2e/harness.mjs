// Test harness for the assetd end-to-end suite.
//
// startServer(opts) spawns `assetd serve` on a free 127.0.0.1 port with a fresh data
// directory and a random API token, waits for GET /healthz, and returns
// { baseUrl, token, client, stop(), ... }. useServer(opts) wires that into node:test
// before/after hooks and prints the server log when a test failed (or E2E_VERBOSE is set).

import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before } from 'node:test';
import assert from 'node:assert/strict';

import { ApiError, buildClient } from '@datocms/cma-client-node';

export const E2E_DIR = path.dirname(fileURLToPath(import.meta.url));
export const REPO_DIR = path.resolve(E2E_DIR, '..');
export const FIXTURES_DIR = path.join(REPO_DIR, 'tests', 'fixtures');

const VERBOSE = !!process.env.E2E_VERBOSE;

export function assetdBin() {
  if (process.env.ASSETD_BIN) return path.resolve(process.env.ASSETD_BIN);
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(REPO_DIR, 'target');
  return path.resolve(E2E_DIR, targetDir, 'debug', 'assetd');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function readLog(logPath) {
  try {
    return fs.readFileSync(logPath, 'utf8');
  } catch {
    return '(no server log)';
  }
}

/**
 * The scale-out backends for one server, when the suite runs against them (scripts/test's second
 * pass sets ASSETD_TEST_DATABASE_URL and ASSETD_TEST_STORAGE_URL): a fresh PostgreSQL schema and a
 * fresh key prefix in the bucket, so servers never see each other's data.
 */
export function scaleOutEnv() {
  const env = {};
  const id = randomBytes(8).toString('hex');
  if (process.env.ASSETD_TEST_DATABASE_URL) {
    env.ASSETD_DATABASE_URL = process.env.ASSETD_TEST_DATABASE_URL;
    env.ASSETD_DATABASE_SCHEMA = `${process.env.ASSETD_TEST_SCHEMA_PREFIX ?? 'assetd_test_'}e2e_${id}`;
  }
  if (process.env.ASSETD_TEST_STORAGE_URL) {
    const [location, query] = process.env.ASSETD_TEST_STORAGE_URL.split('?');
    env.ASSETD_STORAGE_URL = `${location.replace(/\/+$/, '')}/e2e-${id}${query ? `?${query}` : ''}`;
  }
  return env;
}

/**
 * Spawn `assetd serve` and wait until it is healthy.
 * opts.env: extra environment variables; opts.healthTimeoutMs (default 20000).
 */
export async function startServer(opts = {}) {
  const bin = assetdBin();
  if (!fs.existsSync(bin)) {
    throw new Error(
      `assetd binary not found at ${bin} (set ASSETD_BIN or CARGO_TARGET_DIR, and build with cargo build)`,
    );
  }
  const port = await freePort();
  const tmpDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'assetd-e2e-'));
  const dataDir = path.join(tmpDir, 'data');
  await fsp.mkdir(dataDir, { recursive: true });
  const logPath = path.join(tmpDir, 'server.log');
  const token = randomBytes(24).toString('hex');
  const baseUrl = `http://127.0.0.1:${port}`;

  const env = {
    ...process.env,
    ...scaleOutEnv(),
    ASSETD_LISTEN: `127.0.0.1:${port}`,
    ASSETD_DATA_DIR: dataDir,
    ASSETD_PUBLIC_URL: baseUrl,
    ASSETD_API_TOKEN: token,
    ASSETD_LOCALES: 'en,it',
    ...(opts.env ?? {}),
  };

  const logFd = fs.openSync(logPath, 'a');
  const child = spawn(bin, ['serve'], {
    env,
    cwd: tmpDir,
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);

  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
    child.on('error', (err) => {
      exited = { code: null, signal: null, error: err };
      resolve(exited);
    });
  });

  const timeoutMs = opts.healthTimeoutMs ?? 20000;
  const deadline = Date.now() + timeoutMs;
  let lastErr = null;
  let healthy = false;
  while (Date.now() < deadline) {
    if (exited) break;
    try {
      const res = await fetch(`${baseUrl}/healthz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) {
        healthy = true;
        break;
      }
      lastErr = new Error(`GET /healthz answered ${res.status}`);
    } catch (err) {
      lastErr = err;
    }
    await sleep(100);
  }

  async function stop() {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => {
        if (!exited) child.kill('SIGKILL');
      }, 5000);
      await exitPromise;
      clearTimeout(t);
    }
    if (!process.env.E2E_KEEP_DATA) {
      await fsp.rm(tmpDir, { recursive: true, force: true });
    }
  }

  if (!healthy) {
    const log = readLog(logPath);
    await stop();
    const why = exited
      ? `server exited early (${JSON.stringify(exited)})`
      : `GET ${baseUrl}/healthz not 200 within ${timeoutMs} ms (last: ${lastErr?.message ?? lastErr})`;
    throw new Error(`assetd failed to start: ${why}\n--- server log (${bin}) ---\n${log}\n--- end of server log ---`);
  }

  const client = buildClient({ apiToken: token, baseUrl, ...(opts.clientOptions ?? {}) });

  return {
    baseUrl,
    token,
    client,
    env,
    port,
    tmpDir,
    dataDir,
    logPath,
    child,
    readLog: () => readLog(logPath),
    printLog(header = 'server log') {
      process.stderr.write(`\n--- ${header} (${logPath}) ---\n${readLog(logPath)}\n--- end of ${header} ---\n`);
    },
    stop,
  };
}

/**
 * Register before/after hooks that start one server for the whole test file, then run
 * `setup(ctx)` (optional, async). Returns a context object whose fields (baseUrl, token,
 * client, ...) are filled in before any test runs.
 */
export function useServer(opts = {}, setup = null) {
  const ctx = {};
  let server = null;
  let failed = false;
  // Note: node:test (v20) does not wait for one root-level before() hook before starting the
  // next one, so per-file setup that needs the server goes into `setup(ctx)` and runs here.
  before(async () => {
    server = await startServer(opts);
    Object.assign(ctx, server);
    if (setup) await setup(ctx);
  }, { timeout: 180000 });
  afterEach((t) => {
    if (t.passed === false) failed = true;
  });
  after(async () => {
    if (!server) return;
    if (failed || VERBOSE) server.printLog(failed ? 'server log (a test failed)' : 'server log');
    await server.stop();
  }, { timeout: 30000 });
  return ctx;
}

// ---------------------------------------------------------------------------
// fixtures

/** Absolute path of a fixture; waits up to `waitMs` for it to appear. */
export async function fixture(name, waitMs = Number(process.env.E2E_FIXTURE_WAIT_MS ?? 0)) {
  const p = path.join(FIXTURES_DIR, name);
  const deadline = Date.now() + waitMs;
  while (!fs.existsSync(p)) {
    if (Date.now() >= deadline) {
      throw new Error(`fixture ${p} is missing`);
    }
    await sleep(1000);
  }
  return p;
}

export function fileMd5(p) {
  return createHash('md5').update(fs.readFileSync(p)).digest('hex');
}

export function fileSize(p) {
  return fs.statSync(p).size;
}

export function fileBytes(p) {
  return fs.readFileSync(p);
}

/** Duration in seconds of an MP4/MOV file, read from its `mvhd` box. */
export function mp4Duration(p) {
  const buf = fs.readFileSync(p);
  const idx = buf.indexOf(Buffer.from('mvhd'));
  if (idx < 0) throw new Error(`no mvhd box in ${p}`);
  const version = buf[idx + 4];
  if (version === 1) {
    const timescale = buf.readUInt32BE(idx + 4 + 4 + 16);
    const duration = Number(buf.readBigUInt64BE(idx + 4 + 4 + 16 + 4));
    return duration / timescale;
  }
  const timescale = buf.readUInt32BE(idx + 4 + 4 + 8);
  const duration = buf.readUInt32BE(idx + 4 + 4 + 8 + 4);
  return duration / timescale;
}

/** CRC-32 (PNG chunk checksum). */
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return ~c >>> 0;
}

/** Bytes of a solid-colour 8-bit RGB PNG of `width` x `height` (for distinct test images). */
export function pngBytes(width, height, [r, g, b] = [0, 0, 0]) {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set([r, g, b], i * 3);
  return pngFromPixels(width, height, pixels);
}

/** Bytes of an 8-bit RGB PNG of `width` x `height` from `pixels` (row-major RGB triplets). */
export function pngFromPixels(width, height, pixels) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const stride = 1 + width * 3;
  const raw = Buffer.alloc(stride * height); // filter byte 0 on every row
  for (let y = 0; y < height; y++) pixels.copy(raw, y * stride + 1, y * width * 3, (y + 1) * width * 3);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Write `bytes` to `dir/name` (creating `dir`) and return the path. */
export function writeFileIn(dir, name, bytes) {
  fs.mkdirSync(dir, { recursive: true });
  const p = path.join(dir, name);
  fs.writeFileSync(p, bytes);
  return p;
}

// ---------------------------------------------------------------------------
// assertions

/** Await `promise`, expect it to reject with an ApiError of `status` (and `code` if given). */
export async function expectApiError(promise, status, code, detailsCheck) {
  let err = null;
  let value;
  try {
    value = await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(
    err,
    `expected ApiError ${status}${code ? ` ${code}` : ''} but the call succeeded with ${JSON.stringify(value)?.slice(0, 800)}`,
  );
  assert.ok(err instanceof ApiError, `expected ApiError, got ${err?.stack ?? err}`);
  const body = JSON.stringify(err.response?.body)?.slice(0, 1500);
  assert.equal(err.response.status, status, `expected HTTP ${status}, got ${err.response.status}: ${body}`);
  if (code) {
    const found = err.findError(code);
    assert.ok(found, `expected error code ${code}, got ${body}`);
    if (detailsCheck) detailsCheck(found.attributes.details ?? {}, body);
  }
  return err;
}

export function assertEnvelope(body, code, ctxMsg = '') {
  const s = JSON.stringify(body)?.slice(0, 1500);
  assert.ok(body && Array.isArray(body.data) && body.data.length > 0, `${ctxMsg} expected error envelope {data:[...]}, got ${s}`);
  for (const e of body.data) {
    assert.equal(e.type, 'api_error', `${ctxMsg} error entity type: ${s}`);
    assert.equal(typeof e.id, 'string', `${ctxMsg} error entity id: ${s}`);
    assert.equal(typeof e.attributes?.code, 'string', `${ctxMsg} error code: ${s}`);
    assert.ok(
      e.attributes.details && typeof e.attributes.details === 'object' && !Array.isArray(e.attributes.details),
      `${ctxMsg} details must be an object: ${s}`,
    );
  }
  if (code) {
    assert.ok(body.data.some((e) => e.attributes.code === code), `${ctxMsg} expected code ${code}, got ${s}`);
  }
}

// ---------------------------------------------------------------------------
// raw HTTP

/** Raw CMA call with the documentation's headers. Returns { res, status, headers, body, text }. */
export async function cma(ctx, method, urlPath, { body, headers = {}, token, omit = [] } = {}) {
  const h = {
    Authorization: `Bearer ${token ?? ctx.token}`,
    Accept: 'application/json',
    'X-Api-Version': '3',
    ...(body !== undefined ? { 'Content-Type': 'application/vnd.api+json' } : {}),
    ...headers,
  };
  for (const k of omit) delete h[k];
  const res = await fetch(`${ctx.baseUrl}${urlPath}`, {
    method,
    headers: h,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    redirect: 'manual',
  });
  const text = await res.text();
  let json;
  try {
    json = text.length ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { res, status: res.status, headers: res.headers, body: json, text };
}

/** Poll GET /job-results/{id} every `intervalMs` until 200. Returns { final, pending: [responses] }. */
export async function pollJob(ctx, jobId, { intervalMs = 150, timeoutMs = 30000 } = {}) {
  const pending = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await cma(ctx, 'GET', `/job-results/${jobId}`);
    if (r.status === 200) return { final: r, pending };
    pending.push(r);
    assert.equal(r.status, 404, `job-results answered ${r.status} (only 404 or 200 allowed): ${r.text.slice(0, 800)}`);
    if (Date.now() > deadline) throw new Error(`job ${jobId} not finished after ${timeoutMs} ms`);
    await sleep(intervalMs);
  }
}

/** Create an upload request, PUT the bytes, return the upload-request object (as deserialized by the client). */
export async function putViaUploadRequest(client, localPath, filename, contentType) {
  const req = await client.uploadRequest.create({ filename });
  const bytes = fs.readFileSync(localPath);
  const res = await fetch(req.url, {
    method: 'PUT',
    headers: { ...(req.request_headers ?? {}), 'Content-Type': contentType },
    body: bytes,
  });
  const txt = await res.text();
  assert.equal(res.status, 200, `PUT ${req.url} answered ${res.status}: ${txt.slice(0, 500)}`);
  return req;
}

export async function getBytes(url, init = {}) {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const buf = Buffer.from(await res.arrayBuffer());
  return { res, status: res.status, headers: res.headers, buf };
}

/** `process.env[name]`, or a clear failure naming `what` it should hold (the multi-node tests never skip). */
export function requireEnv(name, what) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: the multi-node tests need ${what}. Run scripts/test-multinode, which provides it.`);
  }
  return value;
}

/** `s3://bucket[/prefix][?query]` → `s3://bucket[/prefix]/<sub>[?query]`. */
export function withPrefix(storageUrl, sub) {
  const m = /^(s3:\/\/[^/?]+)(\/[^?]*)?(\?.*)?$/.exec(storageUrl);
  if (!m) throw new Error(`ASSETD_TEST_STORAGE_URL must look like s3://bucket[/prefix]?endpoint=…, got ${storageUrl}`);
  const base = (m[2] ?? '').replace(/\/+$/, '');
  return `${m[1]}${base}/${sub}${m[3] ?? ''}`;
}

/** The width and height in a JPEG's SOF header. */
export function jpegSize(buf) {
  assert.equal(buf.readUInt16BE(0), 0xffd8, 'a JPEG');
  let at = 2;
  while (at < buf.length) {
    const marker = buf.readUInt16BE(at);
    const length = buf.readUInt16BE(at + 2);
    if (marker >= 0xffc0 && marker <= 0xffc3) return { height: buf.readUInt16BE(at + 5), width: buf.readUInt16BE(at + 7) };
    at += 2 + length;
  }
  assert.fail('no SOF marker');
}

/**
 * A test video made with ffmpeg's test sources at `file`: `size` (e.g. `1280x720`), `seconds` long,
 * `fps` frames a second, H.264 + an AAC tone; returns `file`.
 */
export function makeClip(file, { size = '854x480', seconds = 6, fps = 25 } = {}) {
  const made = spawnSync('ffmpeg', [
    '-nostdin', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', file,
  ], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  return file;
}

export { ApiError, sleep };

/** Runs `assetd tokens …` against a server's database; returns stdout. */
export function assetdTokens(server, args) {
  const run = spawnSync(assetdBin(), ['tokens', ...args], { env: { ...server.env, RUST_LOG: 'warn' }, encoding: 'utf8' });
  assert.equal(run.status, 0, `assetd tokens ${args.join(' ')}: ${run.stderr}`);
  return run.stdout;
}

/** Creates a token with a role on a server: { id, secret, client } (an official client using it). */
export function createToken(server, name, role) {
  const out = assetdTokens(server, ['create', '--name', name, '--role', role]);
  const secret = out.match(/secret \(shown only now\): (\S+)/)?.[1];
  const id = out.match(/created token (\S+)/)?.[1];
  assert.ok(secret && id, out);
  return { id, secret, client: buildClient({ apiToken: secret, baseUrl: server.baseUrl }) };
}
