// Webhooks with the official client: client.webhooks.create against the running binary, a Node
// http receiver gets the signed upload create event, the signature verifies with node:crypto,
// and client.webhookCalls.list() shows the call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';

import { useServer, fixture } from '../harness.mjs';

const T = { timeout: 60000 };

// The README's receiver check: HMAC-SHA256 of `${t}.${rawBody}`, and a 5-minute replay window.
function verify(secret, header, rawBody, toleranceSecs = 300) {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2)));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSecs) return false;
  const expected = createHmac('sha256', secret).update(`${t}.`).update(rawBody).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function startReceiver() {
  const received = [];
  let notify = () => {};
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('thanks');
      notify();
    });
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        url: `http://127.0.0.1:${server.address().port}/hooks/assetd`,
        received,
        next: (count) =>
          new Promise((done, fail) => {
            const timer = setTimeout(() => fail(new Error(`only ${received.length} deliveries`)), 20000);
            notify = () => {
              if (received.length >= count) {
                clearTimeout(timer);
                done();
              }
            };
            notify();
          }),
        close: () => new Promise((r) => server.close(r)),
      });
    });
  });
}

const srv = useServer({ env: { ASSETD_WEBHOOK_RETRY_BASE_MS: '100' } });

test('a webhook receives the signed create event and the call is logged', T, async () => {
  const { client } = srv;
  const receiver = await startReceiver();
  try {
    const webhook = await client.webhooks.create({
      name: 'e2e receiver',
      url: receiver.url,
      headers: { 'X-Source': 'e2e' },
      events: [{ entity_type: 'upload', event_types: ['create', 'delete'] }],
      custom_payload: null,
      http_basic_user: null,
      http_basic_password: null,
    });
    assert.equal(webhook.type, 'webhook');
    assert.equal(webhook.enabled, true);
    assert.match(webhook.secret, /^whsec_/);
    assert.deepEqual((await client.webhooks.find(webhook.id)).events, webhook.events);
    assert.ok((await client.webhooks.list()).some((w) => w.id === webhook.id));

    const upload = await client.uploads.createFromLocalFile({ localPath: await fixture('cat.jpg') });
    await receiver.next(1);
    const [delivery] = receiver.received;
    assert.equal(delivery.headers['content-type'], 'application/json');
    assert.equal(delivery.headers['x-assetd-event'], 'upload.create');
    assert.equal(delivery.headers['x-assetd-webhook-id'], webhook.id);
    assert.equal(delivery.headers['x-source'], 'e2e');
    const signature = delivery.headers['x-assetd-signature'];
    assert.ok(verify(webhook.secret, signature, delivery.raw), signature);
    assert.ok(!verify('whsec_wrong', signature, delivery.raw), 'a wrong secret does not verify');
    assert.ok(!verify(webhook.secret, signature, Buffer.concat([delivery.raw, Buffer.from(' ')])), 'nor a changed body');

    const payload = JSON.parse(delivery.raw.toString('utf8'));
    assert.equal(payload.entity_type, 'upload');
    assert.equal(payload.event_type, 'create');
    assert.equal(payload.entity.id, upload.id);
    assert.equal(payload.entity.attributes.md5, upload.md5);
    assert.equal(payload.webhook_call_id, delivery.headers['x-assetd-delivery-id']);

    // The delivery is committed right after the receiver answered: poll the log briefly.
    let calls = [];
    for (let i = 0; i < 50; i++) {
      calls = await client.webhookCalls.list();
      if (calls.length && calls[0].status === 'success') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(calls.length, 1);
    assert.equal(calls[0].id, payload.webhook_call_id);
    assert.equal(calls[0].status, 'success');
    assert.equal(calls[0].event_type, 'create');
    assert.equal(calls[0].response_status, 200);
    assert.equal(calls[0].webhook.id, webhook.id);
    const call = await client.webhookCalls.find(calls[0].id);
    assert.equal(JSON.parse(call.request_payload).entity.id, upload.id);

    await client.webhookCalls.resendWebhook(call.id);
    await receiver.next(2);
    assert.equal(receiver.received[1].headers['x-assetd-delivery-id'], call.id);

    await client.webhooks.destroy(webhook.id);
    assert.equal((await client.webhooks.list()).length, 0);
  } finally {
    await receiver.close();
  }
});
