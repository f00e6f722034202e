// The hostile-input probe's library (tests/probe.test.mjs uses it).
//
// - snapshot(ctx) / assertUnchanged(ctx, before): the server's state as the CMA shows it (every
//   upload's id, md5, size, mime_type, filename, url, updated_at, tags, collection and a sha256
//   of the bytes its public url serves; the counts of uploads, upload collections and tags).
// - rawExchange(port, parts, opts): a raw TCP exchange (exact bytes, optional pauses, read until
//   the server closes or a timeout), with the answers parsed, for what fetch cannot send.
// - Probe: probe.case(className, description, fn) runs one hostile case; every answer the case
//   gets through its helpers (c.cma, c.fetch, c.raw) is recorded (status, and the error code of the
//   envelope when there is one) and held to the global rules: never a 5xx (but a 503 with
//   Retry-After where the case allows it), never a dropped connection where an answer is due, and
//   the CMA error envelope on every CMA error. With PROBE_REPORT=<file>, probe.writeReport()
//   writes the probe table (one row per class) and a totals line as Markdown.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// ---------------------------------------------------------------------------
// state

async function cmaGet(ctx, urlPath) {
  const res = await fetch(`${ctx.baseUrl}${urlPath}`, {
    headers: { Authorization: `Bearer ${ctx.token}`, Accept: 'application/json', 'X-Api-Version': '3' },
  });
  const text = await res.text();
  assert.equal(res.status, 200, `snapshot: GET ${urlPath} answered ${res.status}: ${text.slice(0, 400)}`);
  return JSON.parse(text);
}

/** The server's state through the CMA and the public urls. */
export async function snapshot(ctx) {
  const list = await cmaGet(ctx, '/uploads?page[limit]=500&order_by=id_ASC');
  const uploads = {};
  for (const u of list.data) {
    const a = u.attributes;
    const res = await fetch(a.url, { redirect: 'manual' });
    const bytes = Buffer.from(await res.arrayBuffer());
    uploads[u.id] = {
      id: u.id,
      md5: a.md5,
      size: a.size,
      mime_type: a.mime_type,
      filename: a.filename,
      url: a.url,
      updated_at: a.updated_at,
      tags: a.tags,
      notes: a.notes,
      collection: u.relationships?.upload_collection?.data?.id ?? null,
      served: `${res.status} ${sha256(bytes)}`,
    };
  }
  const collections = await cmaGet(ctx, '/upload-collections');
  const tags = await cmaGet(ctx, '/upload-tags?page[limit]=500');
  return {
    uploadCount: list.meta?.total_count ?? list.data.length,
    collectionCount: collections.data.length,
    tagCount: tags.meta?.total_count ?? tags.data.length,
    uploads,
  };
}

/** Compares a new snapshot with `before`; `ignore` lists upload ids a case created on purpose. */
export async function compareSnapshot(ctx, before, { ignore = [] } = {}) {
  const after = await snapshot(ctx);
  const strip = (s) => {
    const uploads = { ...s.uploads };
    for (const id of ignore) delete uploads[id];
    return {
      uploads,
      uploadCount: s.uploadCount - ignore.filter((id) => id in s.uploads).length,
      collectionCount: s.collectionCount,
      tagCount: s.tagCount,
    };
  };
  const a = strip(before);
  const b = strip(after);
  const diffs = [];
  for (const k of ['uploadCount', 'collectionCount', 'tagCount']) if (a[k] !== b[k]) diffs.push(`${k}: ${a[k]} → ${b[k]}`);
  for (const id of new Set([...Object.keys(a.uploads), ...Object.keys(b.uploads)])) {
    const x = JSON.stringify(a.uploads[id]);
    const y = JSON.stringify(b.uploads[id]);
    if (x !== y) diffs.push(`upload ${id}: ${x} → ${y}`);
  }
  return { after, diffs };
}

export async function assertUnchanged(ctx, before, opts) {
  const { diffs } = await compareSnapshot(ctx, before, opts);
  assert.deepEqual(diffs, [], `state changed:\n${diffs.join('\n')}`);
}

// ---------------------------------------------------------------------------
// raw HTTP over TCP

/**
 * Connects to 127.0.0.1:`port`, writes `parts` in order (strings or Buffers; `{ pause: ms }` waits),
 * then reads until the server closes the connection or `timeoutMs` pass after the last write
 * (`endAfterWrite` half-closes our side). Returns { data, responses, closed, timedOut, error,
 * elapsedMs (from connect to close or timeout), writeError }.
 */
export function rawExchange(port, parts, { timeoutMs = 5000, endAfterWrite = false } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks = [];
    let settled = false;
    let timer = null;
    let writeError = null;
    let sockError = null;
    const sock = net.connect({ port, host: '127.0.0.1' });
    const finish = (closed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const data = Buffer.concat(chunks);
      sock.destroy();
      resolve({
        data,
        responses: parseResponses(data),
        closed,
        timedOut: !closed,
        error: sockError,
        writeError,
        elapsedMs: Date.now() - started,
      });
    };
    sock.on('data', (d) => chunks.push(d));
    sock.on('error', (e) => {
      sockError = e;
    });
    sock.on('close', () => finish(true));
    sock.on('connect', async () => {
      for (const p of parts) {
        if (settled || sock.destroyed) break;
        if (p && typeof p === 'object' && !Buffer.isBuffer(p) && 'pause' in p) {
          await sleep(p.pause);
          continue;
        }
        try {
          const ok = sock.write(p);
          if (!ok) await new Promise((r) => sock.once('drain', r).once('close', r));
        } catch (e) {
          writeError = e;
          break;
        }
      }
      if (endAfterWrite && !sock.destroyed) sock.end();
      timer = setTimeout(() => finish(false), timeoutMs);
    });
  });
}

function decodeChunked(buf, start) {
  let pos = start;
  const out = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', pos);
    if (eol < 0) return null;
    const size = Number.parseInt(buf.toString('latin1', pos, eol).split(';')[0], 16);
    if (!Number.isFinite(size)) return null;
    pos = eol + 2;
    if (size === 0) {
      const end = buf.indexOf('\r\n\r\n', pos - 2);
      return end < 0 ? null : { body: Buffer.concat(out), end: end + 4 };
    }
    if (pos + size + 2 > buf.length) return null;
    out.push(buf.subarray(pos, pos + size));
    pos += size + 2;
  }
}

/** Parses consecutive HTTP/1.1 responses (interim 1xx skipped). Each: { status, headers, body, complete }. */
export function parseResponses(buf) {
  const out = [];
  let pos = 0;
  while (pos < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) {
      out.push({ status: null, headers: {}, body: buf.subarray(pos), complete: false, partialHead: true });
      break;
    }
    const lines = buf.toString('latin1', pos, headEnd).split('\r\n');
    const m = lines[0].match(/^HTTP\/1\.[01] (\d{3})/);
    if (!m) {
      out.push({ status: null, headers: {}, body: buf.subarray(pos), complete: false, garbage: lines[0] });
      break;
    }
    const status = Number(m[1]);
    const headers = {};
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) {
        const k = line.slice(0, i).trim().toLowerCase();
        const v = line.slice(i + 1).trim();
        headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
      }
    }
    let start = headEnd + 4;
    if (status >= 100 && status < 200) {
      pos = start;
      continue;
    }
    let body;
    let complete = true;
    if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      const d = decodeChunked(buf, start);
      if (!d) {
        body = buf.subarray(start);
        complete = false;
        pos = buf.length;
      } else {
        body = d.body;
        pos = d.end;
      }
    } else if (headers['content-length'] !== undefined) {
      const len = Number(headers['content-length']);
      body = buf.subarray(start, start + len);
      complete = body.length === len;
      pos = start + len;
    } else if (status === 204 || status === 304) {
      body = Buffer.alloc(0);
      pos = start;
    } else {
      body = buf.subarray(start);
      pos = buf.length;
    }
    out.push({ status, headers, body, complete });
  }
  return out;
}

// ---------------------------------------------------------------------------
// the recorder

/** Routes that are not CMA routes: asset urls, the direct PUT, health, metrics, UI, OpenAPI. */
function routeOf(urlPath, projectId = '1') {
  const p = urlPath.split('?')[0];
  if (p.startsWith('/put/') || p.startsWith(`/${projectId}/`)) return 'public';
  if (/^\/(healthz|readyz|metrics|openapi\.json|ui)(\/|$)/.test(p)) return 'other';
  return 'cma';
}

function headersObject(h) {
  const o = {};
  for (const [k, v] of h.entries()) o[k] = v;
  return o;
}

function parseJson(text) {
  try {
    return text.length ? JSON.parse(text) : undefined;
  } catch {
    return undefined;
  }
}

/** Checks the CMA error envelope (spec §1.8) of an error answer; returns its first code. */
export function envelopeCode(ans, where) {
  const s = (ans.text ?? '').slice(0, 600);
  const ct = ans.headers['content-type'] ?? '';
  assert.ok(ct.includes('application/json'), `${where}: error answer ${ans.status} with Content-Type "${ct}": ${s}`);
  const body = ans.body;
  assert.ok(body && Array.isArray(body.data) && body.data.length > 0, `${where}: no {data:[…]} error envelope in ${ans.status}: ${s}`);
  for (const e of body.data) {
    assert.equal(e.type, 'api_error', `${where}: envelope entity type: ${s}`);
    assert.equal(typeof e.id, 'string', `${where}: envelope entity id: ${s}`);
    assert.match(e.attributes?.code ?? '', /^[A-Z][A-Z0-9_]+$/, `${where}: envelope code: ${s}`);
    assert.ok(
      e.attributes.details && typeof e.attributes.details === 'object' && !Array.isArray(e.attributes.details),
      `${where}: envelope details must be an object: ${s}`,
    );
  }
  return body.data[0].attributes.code;
}

class CaseContext {
  constructor(probe, cls, description, opts) {
    this.probe = probe;
    this.cls = cls;
    this.description = description;
    this.opts = opts;
    this.answers = [];
  }

  get ctx() {
    return this.probe.ctx;
  }

  /**
   * Records one answer and applies the global rules. ans: { status (null: no answer), headers,
   * text, body, route }. opts: allow503 (a 503 with Retry-After is fine), closeOk (the server may
   * close without answering), envelope (false: answers that come before routing, e.g. hyper's own
   * 400/431 on raw framing errors).
   */
  record(ans, opts = {}) {
    const o = { ...this.opts, ...opts };
    const where = `[${this.cls}] ${this.description}${o.label ? ` (${o.label})` : ''}`;
    if (ans.status == null) {
      this.answers.push({ label: o.closeOk ? 'closed' : 'dropped' });
      assert.ok(o.closeOk, `${where}: the connection was dropped without an answer (${ans.error ?? 'no bytes'})`);
      return ans;
    }
    let code = null;
    // 431 and 414 are answered from the request head before any route is known (server.rs,
    // hyper), without a body, as README says. Reported, not hidden.
    if (ans.status >= 400 && ans.route !== 'bucket' && o.envelope !== false && ans.status !== 431 && ans.status !== 414) {
      if (ans.route === 'cma' || (ans.headers['content-type'] ?? '').includes('json')) {
        code = envelopeCode(ans, where);
      } else if (ans.route === 'public' && ans.method !== 'HEAD') {
        assert.ok((ans.text ?? '').length > 0, `${where}: ${ans.status} on a public route without an error body`);
      }
    } else if (ans.status >= 400 && (ans.headers['content-type'] ?? '').includes('json')) {
      code = ans.body?.data?.[0]?.attributes?.code ?? null;
    }
    this.answers.push({ label: `${ans.status}${code ? ` ${code}` : ''}${ans.route === 'bucket' ? ' (bucket)' : ''}` });
    if (ans.status >= 500) {
      assert.ok(
        o.allow503 && ans.status === 503 && /^\d+$/.test(ans.headers['retry-after'] ?? ''),
        `${where}: server error ${ans.status} (Retry-After: ${ans.headers['retry-after']}): ${(ans.text ?? '').slice(0, 500)}`,
      );
    }
    ans.code = code;
    return ans;
  }

  /** A CMA call with the documented headers (spec §1.2) unless overridden; `omit` drops headers. */
  async cma(method, urlPath, { body, headers = {}, token, omit = [], rawBody, label, ...recOpts } = {}) {
    const h = {
      Authorization: `Bearer ${token ?? this.ctx.token}`,
      Accept: 'application/json',
      'X-Api-Version': '3',
      ...(body !== undefined || rawBody !== undefined ? { 'Content-Type': 'application/vnd.api+json' } : {}),
      ...headers,
    };
    for (const k of omit) delete h[k];
    const payload = rawBody !== undefined ? rawBody : body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    return this.fetch(`${this.ctx.baseUrl}${urlPath}`, { method, headers: h, body: payload }, { label, ...recOpts });
  }

  /** fetch, recorded; a network failure is recorded as a dropped connection. */
  async fetch(url, init = {}, { route, label, ...recOpts } = {}) {
    const u = new URL(url);
    const r = route ?? (u.origin === new URL(this.ctx.baseUrl).origin ? routeOf(u.pathname + u.search) : 'bucket');
    let ans;
    try {
      const res = await fetch(url, { redirect: 'manual', ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 30000) });
      const buf = Buffer.from(await res.arrayBuffer());
      const text = buf.toString('utf8');
      ans = { status: res.status, headers: headersObject(res.headers), buf, text, body: parseJson(text), route: r, method: init.method ?? 'GET' };
    } catch (e) {
      ans = { status: null, error: `${e.message}${e.cause ? `: ${e.cause.code ?? e.cause.message}` : ''}`, route: r };
    }
    return this.record(ans, { label, ...recOpts });
  }

  /**
   * A raw exchange; every parsed answer is recorded (route from `route`, default cma). Returns
   * the exchange with `answers` (the recorded ones). With no answer at all, it is recorded as a
   * dropped connection unless `closeOk`.
   */
  async raw(parts, { route = 'cma', timeoutMs, endAfterWrite, label, ...recOpts } = {}) {
    const x = await rawExchange(this.probe.ctx.port, parts, { timeoutMs, endAfterWrite });
    x.answers = [];
    const full = x.responses.filter((r) => r.status != null);
    if (full.length === 0) {
      this.record({ status: null, error: x.error?.code ?? (x.timedOut ? 'timeout' : 'closed'), route }, { label, ...recOpts });
    }
    for (const r of full) {
      const text = r.body.toString('utf8');
      x.answers.push(this.record({ status: r.status, headers: r.headers, text, body: parseJson(text), route, complete: r.complete }, { label, ...recOpts }));
    }
    return x;
  }

  /** Asserts an answer's status (one or a list) and, when given, its envelope code (one or a list). */
  expect(ans, statuses, codes) {
    const want = [].concat(statuses);
    const where = `[${this.cls}] ${this.description}`;
    assert.ok(
      want.includes(ans.status),
      `${where}: expected ${want.join('/')}${codes ? ` ${[].concat(codes).join('/')}` : ''}, got ${ans.status ?? `no answer (${ans.error})`}: ${(ans.text ?? '').slice(0, 500)}`,
    );
    if (codes) {
      const c = [].concat(codes);
      assert.ok(c.includes(ans.code), `${where}: expected code ${c.join('/')}, got ${ans.code}: ${(ans.text ?? '').slice(0, 500)}`);
    }
    return ans;
  }
}

export class Probe {
  /** ctx: the server context (baseUrl, token, port), filled in by useServer before tests run. */
  constructor(ctx, { backend } = {}) {
    this.ctx = ctx;
    this.backend = backend;
    this.classes = new Map();
    this.order = [];
  }

  entry(cls) {
    if (!this.classes.has(cls)) {
      this.classes.set(cls, { cases: 0, failed: [], answers: new Map(), state: null, notes: [] });
      this.order.push(cls);
    }
    return this.classes.get(cls);
  }

  /**
   * Runs one case. A failure is kept (and the remaining cases of the class still run);
   * `assertClass(cls)` at the end of the class's test throws them all. opts are default record
   * options for every answer of the case (allow503, closeOk, envelope).
   */
  async case(cls, description, fn, opts = {}) {
    const e = this.entry(cls);
    e.cases += 1;
    const c = new CaseContext(this, cls, description, opts);
    try {
      await fn(c);
      assert.ok(c.answers.length > 0, `[${cls}] ${description}: the case recorded no answer`);
    } catch (err) {
      e.failed.push(`${description}: ${err.message}`);
    } finally {
      for (const a of c.answers) e.answers.set(a.label, (e.answers.get(a.label) ?? 0) + 1);
    }
  }

  /** Records the class's state check: `ok` true/false, or a string for a qualified answer. */
  state(cls, value) {
    const e = this.entry(cls);
    if (e.state === false) return;
    e.state = value;
  }

  note(cls, text) {
    this.entry(cls).notes.push(text);
  }

  /** Snapshots before `fn`, asserts unchanged after (and records it for the report). */
  async unchanged(cls, fn, { ignore = [] } = {}) {
    const before = await snapshot(this.ctx);
    await fn(before);
    const { diffs } = await compareSnapshot(this.ctx, before, { ignore: typeof ignore === 'function' ? ignore() : ignore });
    this.state(cls, diffs.length === 0);
    if (diffs.length) this.entry(cls).failed.push(`state changed:\n${diffs.join('\n')}`);
  }

  assertClass(cls) {
    const e = this.entry(cls);
    assert.ok(e.cases > 0, `class ${cls} ran no case`);
    assert.equal(e.failed.length, 0, `${e.failed.length} of ${e.cases} cases of "${cls}" failed:\n- ${e.failed.join('\n- ')}`);
  }

  table() {
    const rows = ['| Class | Cases | Answers seen | State unchanged |', '|---|---:|---|---|'];
    let cases = 0;
    let answers = 0;
    let failed = 0;
    for (const cls of this.order) {
      const e = this.classes.get(cls);
      cases += e.cases;
      failed += e.failed.length;
      const seen = [...e.answers.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
      answers += seen.reduce((n, [, k]) => n + k, 0);
      const state = e.state === true ? 'yes' : e.state === false ? '**no**' : e.state ?? '—';
      const casesCell = e.failed.length ? `${e.cases} (**${e.failed.length} failed**)` : `${e.cases}`;
      rows.push(`| ${cls} | ${casesCell} | ${seen.map(([l, k]) => `${l} ×${k}`).join(', ')} | ${state}${e.notes.length ? ` (${e.notes.join('; ')})` : ''} |`);
    }
    const head = this.backend ? `Backend: ${this.backend}.\n\n` : '';
    const failures = [...this.classes.entries()].flatMap(([cls, e]) => e.failed.map((f) => `- ${cls}: ${f.split('\n')[0]}`));
    return (
      `${head}${rows.join('\n')}\n\n**Total:** ${cases} cases in ${this.order.length} classes, ${answers} answers recorded, ` +
      `${failed === 0 ? 'every case passed' : `${failed} failed`}.\n${failures.length ? `\nFailures:\n${failures.join('\n')}\n` : ''}`
    );
  }

  /** Writes the table to PROBE_REPORT (or `file`) when set. */
  writeReport(file = process.env.PROBE_REPORT) {
    if (!file) return;
    fs.writeFileSync(file, this.table());
  }
}
