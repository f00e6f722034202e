// Issue 7 (metrics and logs) through the official client: its calls are counted by route in
// /metrics, and every answer, errors included, carries the X-Request-Id the client logs.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ApiError } from '@datocms/cma-client-node';
import { useServer, fixture } from '../harness.mjs';

const T = { timeout: 120000 };
const srv = useServer();

/** `name{labels}` → value of every sample in the exposition. */
async function scrape() {
  const response = await fetch(`${srv.baseUrl}/metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const samples = new Map();
  for (const line of (await response.text()).split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

const delta = (before, after, key) => (after.get(key) ?? 0) - (before.get(key) ?? 0);

test("the client's calls are counted by route, and its upload job by kind", T, async () => {
  const before = await scrape();
  const cat = await srv.client.uploads.createFromLocalFile({ localPath: await fixture('cat.png') });
  await srv.client.uploads.find(cat.id);
  await srv.client.uploads.find(cat.id);
  await assert.rejects(srv.client.uploads.find('no-such-upload'), ApiError);
  const after = await scrape();
  const key = (method, route, status) => `assetd_http_requests_total{method="${method}",route="${route}",status="${status}"}`;
  assert.equal(delta(before, after, key('POST', '/upload-requests', 200)), 1);
  assert.equal(delta(before, after, key('POST', '/uploads', 202)), 1);
  assert.equal(delta(before, after, key('GET', '/uploads/{id}', 200)), 2);
  assert.equal(delta(before, after, key('GET', '/uploads/{id}', 404)), 1);
  assert.ok(delta(before, after, key('GET', '/job-results/{id}', 200)) >= 1, 'the client polled its job');
  assert.equal(delta(before, after, 'assetd_job_runs_total{kind="create_upload",outcome="done"}'), 1);
  assert.equal(after.get('assetd_jobs_queued'), 0);
});

test('answers, errors included, carry the X-Request-Id the client logs', T, async () => {
  const error = await srv.client.uploads.find('no-such-upload').catch((e) => e);
  assert.ok(error instanceof ApiError);
  const headers = error.response.headers;
  const id = typeof headers.get === 'function' ? headers.get('x-request-id') : headers['x-request-id'];
  assert.match(id, /^[0-9a-f-]{36}$/);
  const raw = await fetch(`${srv.baseUrl}/uploads`, {
    headers: { authorization: `Bearer ${srv.token}`, 'x-api-version': '3', 'x-request-id': 'from-the-edge-1' },
  });
  assert.equal(raw.headers.get('x-request-id'), 'from-the-edge-1');
});
