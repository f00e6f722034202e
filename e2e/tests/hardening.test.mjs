// Issue 6 through the official client: token roles (tokens made with `assetd tokens create`),
// the client riding out 429s with the reset header, and signed transform URLs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';

import {
  assetdTokens,
  createToken as createTokenOn,
  useServer,
  startServer,
  fixture,
  getBytes,
  expectApiError,
} from '../harness.mjs';

const T = { timeout: 120000 };
const SIGNING_SECRET = 'e2e-transform-secret';

const srv = useServer({ env: { ASSETD_TRANSFORM_SECRET: SIGNING_SECRET, ASSETD_TRANSFORM_PRESETS: 'thumb:w=32&h=32&fit=crop' } });

const tokens = (args) => assetdTokens(srv, args);
const createToken = (name, role) => createTokenOn(srv, name, role);

test('a read-only token reads and is refused every change', T, async () => {
  const cat = await srv.client.uploads.createFromLocalFile({ localPath: await fixture('cat.png'), notes: 'kept' });
  const reader = createToken('reader', 'read-only');
  const listed = await reader.client.uploads.list();
  assert.ok(listed.some((u) => u.id === cat.id));
  await expectApiError(reader.client.uploads.update(cat.id, { notes: 'changed' }), 403, 'INSUFFICIENT_PERMISSIONS');
  await expectApiError(reader.client.uploads.destroy(cat.id), 403, 'INSUFFICIENT_PERMISSIONS');
  await expectApiError(
    reader.client.uploads.createFromLocalFile({ localPath: await fixture('dog.jpg') }),
    403,
    'INSUFFICIENT_PERMISSIONS',
  );
  assert.equal((await srv.client.uploads.find(cat.id)).notes, 'kept');
});

test('an upload-only token adds files, is their creator, and changes nothing else', T, async () => {
  const bot = createToken('ingest-bot', 'upload-only');
  const dog = await bot.client.uploads.createFromLocalFile({ localPath: await fixture('dog.jpg'), tags: ['bot'] });
  assert.deepEqual(dog.creator, { type: 'access_token', id: bot.id });
  const again = await bot.client.uploads.createFromLocalFile({
    localPath: await fixture('dog.jpg'),
    skipCreationIfAlreadyExists: true,
  });
  assert.equal(again.id, dog.id, 'the md5 dedupe works with an upload-only token');
  await expectApiError(bot.client.uploads.update(dog.id, { notes: 'x' }), 403, 'INSUFFICIENT_PERMISSIONS');
  await expectApiError(bot.client.uploads.destroy(dog.id), 403, 'INSUFFICIENT_PERMISSIONS');

  const listed = JSON.parse(`[${tokens(['list', '--json']).trim().split('\n').join(',')}]`);
  assert.deepEqual(listed.find((t) => t.name === 'ingest-bot')?.role, 'upload_only');
  tokens(['revoke', 'ingest-bot']);
  // Revocation reaches running nodes within their 30 s token cache; a token never seen is refused at once.
  const unused = createToken('unused', 'full-access');
  tokens(['revoke', unused.id]);
  await expectApiError(unused.client.uploads.list(), 401, 'INVALID_AUTHORIZATION_HEADER');
});

test('signed transform URLs render, unsigned ones only presets', T, async () => {
  const cat = await srv.client.uploads.createFromLocalFile({ localPath: await fixture('cat.png') });
  const { pathname } = new URL(cat.url);
  const query = 'w=24&fm=png';
  const s = createHmac('sha256', SIGNING_SECRET).update(`${pathname}?${query}`).digest('hex');
  const signed = await getBytes(`${cat.url}?${query}&s=${s}`);
  assert.equal(signed.status, 200);
  assert.equal(signed.buf.readUInt32BE(16), 24, 'PNG width');
  assert.equal((await getBytes(`${cat.url}?${query}`)).status, 403);
  assert.equal((await getBytes(`${cat.url}?w=25&fm=png&s=${s}`)).status, 403);
  const thumb = await getBytes(`${cat.url}?preset=thumb&fm=png`);
  assert.equal(thumb.status, 403, 'unsigned URLs cannot add parameters to a preset');
  const preset = await getBytes(`${cat.url}?preset=thumb`);
  assert.equal(preset.status, 200);
});

test('the client rides out 429s using X-RateLimit-Reset', T, async () => {
  const limited = await startServer({ env: { ASSETD_RATE_LIMIT: '4', ASSETD_RATE_LIMIT_WINDOW: '1' } });
  try {
    const started = Date.now();
    for (let i = 0; i < 10; i++) await limited.client.uploads.list();
    assert.ok(Date.now() - started >= 1000, 'some calls waited for the window to reset');
    const raw = [];
    for (let i = 0; i < 6; i++) {
      raw.push(
        await fetch(`${limited.baseUrl}/uploads`, {
          headers: { Authorization: `Bearer ${limited.token}`, Accept: 'application/json', 'X-Api-Version': '3' },
        }),
      );
    }
    const refused = raw.find((r) => r.status === 429);
    assert.ok(refused, 'a burst over the budget gets a 429');
    assert.ok(Number.parseInt(refused.headers.get('x-ratelimit-reset'), 10) >= 1);
    assert.equal(refused.headers.get('x-ratelimit-limit'), '4');
  } finally {
    await limited.stop();
  }
});
