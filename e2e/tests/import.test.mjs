// `assetd import` / `assetd export` seen from the official client: imported files are ordinary
// uploads (the client's md5 dedupe finds them), and metadata set with the client survives an
// export → import into another server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { assetdBin, fileBytes, fileMd5, fixture, getBytes, startServer, useServer } from '../harness.mjs';

const T = { timeout: 120000 };
const srv = useServer();

/** Runs the assetd binary against `server`; resolves { code, stdout, stderr }. */
function assetd(server, args) {
  return new Promise((resolve) => {
    const env = { ...process.env, ASSETD_URL: server.baseUrl, ASSETD_API_TOKEN: server.token, RUST_LOG: 'warn' };
    execFile(assetdBin(), args, { env }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

function tempDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'assetd-e2e-import-'));
}

test('imported files are uploads the client lists, finds by md5 and does not upload again', T, async () => {
  const dir = tempDir();
  fs.mkdirSync(path.join(dir, 'pets', 'cats'), { recursive: true });
  fs.copyFileSync(await fixture('cat.png'), path.join(dir, 'pets', 'cats', 'cat.png'));
  fs.copyFileSync(await fixture('doc.pdf'), path.join(dir, 'doc.pdf'));

  const run = await assetd(srv, ['import', dir, '--tags-from-folders']);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(run.stdout, /2 uploaded/);

  const catPath = path.join(dir, 'pets', 'cats', 'cat.png');
  const [cat] = await srv.client.uploads.list({ filter: { fields: { md5: { eq: fileMd5(catPath) } } } });
  assert.ok(cat, 'the client finds the imported file by md5');
  assert.equal(cat.filename, 'cat.png');
  assert.deepEqual([...cat.tags].sort(), ['cats', 'pets']);
  assert.deepEqual((await getBytes(cat.url)).buf, fileBytes(catPath));

  const again = await srv.client.uploads.createFromLocalFile({ localPath: catPath, skipCreationIfAlreadyExists: true });
  assert.equal(again.id, cat.id, "the client's dedupe returns the imported upload");
  const all = await srv.client.uploads.list({ page: { limit: 100 } });
  assert.equal(all.length, 2);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('metadata set with the client survives export and import into another server', T, async () => {
  const catPath = await fixture('cat.jpg');
  const created = await srv.client.uploads.createFromLocalFile({ localPath: catPath });
  await srv.client.uploads.update(created.id, {
    author: 'Ann',
    notes: 'exported',
    tags: ['moved'],
    default_field_metadata: {
      en: { alt: 'A cat', title: 'Cat', custom_data: { credit: 'e2e' }, focal_point: { x: 0.2, y: 0.8 } },
      it: { alt: 'Un gatto', title: 'Gatto', custom_data: {}, focal_point: { x: 0.2, y: 0.8 } },
    },
  });

  const dir = tempDir();
  const exported = await assetd(srv, ['export', dir]);
  assert.equal(exported.code, 0, exported.stdout + exported.stderr);
  assert.ok(fs.existsSync(path.join(dir, 'assetd-export.json')));

  const other = await startServer();
  try {
    const imported = await assetd(other, ['import', dir]);
    assert.equal(imported.code, 0, imported.stdout + imported.stderr);
    const [copy] = await other.client.uploads.list({ filter: { fields: { md5: { eq: fileMd5(catPath) } } } });
    assert.ok(copy, 'the other server has the file');
    assert.notEqual(copy.url, created.url);
    assert.equal(copy.filename, 'cat.jpg');
    assert.equal(copy.author, 'Ann');
    assert.equal(copy.notes, 'exported');
    assert.deepEqual(copy.tags, ['moved']);
    assert.equal(copy.default_field_metadata.en.alt, 'A cat');
    assert.equal(copy.default_field_metadata.it.title, 'Gatto');
    assert.deepEqual(copy.default_field_metadata.en.custom_data, { credit: 'e2e' });
    assert.deepEqual(copy.default_field_metadata.en.focal_point, { x: 0.2, y: 0.8 });
    assert.deepEqual((await getBytes(copy.url)).buf, fileBytes(catPath));
  } finally {
    await other.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
