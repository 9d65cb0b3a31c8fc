import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Stripeline, StripelineError, selectorFor, tokenExpiry } from '../src/index.js';
import { until, event } from './notifier.js';
import { setup, future } from './api.js';

test('charge sends the API key and body, and returns the charge with its subscribe block', async (t) => {
  const { client, seen } = await setup(t);
  const ch = await client.charge({ token: 'tok_visa', amount: 2000 }, { idempotencyKey: '0b6f2c1e-9d4a-4f7b-8e3c-5a2d9c7e1f40' });
  assert.equal(ch.id, 'ch_1');
  assert.equal(ch.subscribe.token, 'tok-for-ch_1');
  assert.equal(seen[0].method, 'POST');
  assert.equal(seen[0].headers['content-type'], 'application/json');
  assert.equal(seen[0].headers['idempotency-key'], '0b6f2c1e-9d4a-4f7b-8e3c-5a2d9c7e1f40');
  assert.deepEqual(seen[0].body, { token: 'tok_visa', amount: 2000 });

  const pi = await client.createPaymentIntent({ amount: 500 });
  assert.equal(pi.client_secret, 'pi_1_secret');
  assert.equal(seen[1].url, '/Stripe/payment-intents');

  await client.events('ch_1', 'tok-for-ch_1', { limit: 10 });
  assert.equal(seen[2].url, '/Stripe/events?id=ch_1&limit=10');
  assert.equal(seen[2].headers['x-subscription-token'], 'tok-for-ch_1');

  const cfg = await client.config();
  assert.equal(cfg.publishable_key, 'pk_test_x');
});

test("a decline rejects with the api's code, decline_code and charge", async (t) => {
  const { client } = await setup(t);
  const err = await client.charge({ token: 'tok_chargeDeclined', amount: 2000 }).then(
    () => assert.fail('the charge succeeded'),
    (e) => e,
  );
  assert.ok(err instanceof StripelineError);
  assert.equal(err.status, 402);
  assert.equal(err.type, 'card_error');
  assert.equal(err.code, 'card_declined');
  assert.equal(err.decline_code, 'generic_decline');
  assert.equal(err.declineCode, 'generic_decline');
  assert.equal(err.charge, 'ch_declined');
  assert.equal(err.message, 'Your card was declined.');
});

test('a 429 carries Retry-After; a missing key its code; a dead api is a network error', async (t) => {
  const { client, server } = await setup(t);
  const busy = await client.charge({ token: 'tok_busy', amount: 1 }).catch((e) => e);
  assert.equal(busy.status, 429);
  assert.equal(busy.retryAfter, 3);

  const anonymous = new Stripeline({ apiBase: server.httpUrl });
  const unauth = await anonymous.charge({ token: 'tok_visa', amount: 1 }).catch((e) => e);
  assert.equal(unauth.status, 401);
  assert.equal(unauth.code, 'missing_api_key');

  const dead = new Stripeline({ apiBase: 'http://127.0.0.1:1' });
  const net = await dead.charge({ token: 'tok_visa', amount: 1 }).catch((e) => e);
  assert.ok(net instanceof StripelineError);
  assert.equal(net.type, 'network');
});

test('subscribe gets the replayed and the live events of its id, with the frame', async (t) => {
  const { client, server } = await setup(t);
  server.publish(event('evt_1', 'ch_1'));
  server.publish(event('evt_other', 'ch_2'));
  const got = [];
  const sub = client.subscribe('ch_1', future(), (ev, frame) => got.push([ev.id, frame.channel]));
  await sub.ready;
  const f = server.peers[0].frames[0];
  assert.deepEqual(f, { type: 'subscribe', channel: 'stripe', selector: "id = 'ch_1'", token: sub.token });
  server.publish(event('evt_2', 'ch_1', 'charge.updated'));
  await until(() => got.length === 2, 'two events');
  assert.deepEqual(got, [
    ['evt_1', 'stripe'],
    ['evt_2', 'stripe'],
  ]);
});

test('reconnects back off exponentially, with jitter, up to the maximum', async (t) => {
  const delays = [];
  const { client, server } = await setup(t, {
    backoffInitial: 10,
    backoffMax: 80,
    random: () => 1, // the top of each jitter range
    onStateChange: (s, d) => s === 'reconnecting' && delays.push(d.delay),
  });
  server.rejectUpgrades = true;
  client.subscribe('ch_1', future(), () => {});
  await until(() => delays.length >= 5, 'five attempts');
  assert.deepEqual(delays.slice(0, 5), [10, 20, 40, 80, 80]);

  // After a connection that subscribes, the next wait starts over.
  server.rejectUpgrades = false;
  await until(() => server.peers.some((p) => p.subs.size === 1), 'a subscription');
  delays.length = 0;
  server.peers.at(-1).close(1001);
  await until(() => delays.length >= 1, 'a reconnect');
  assert.equal(delays[0], 10);
});

test('jitter spreads the wait between half and all of the cap', async (t) => {
  const delays = [];
  const { client, server } = await setup(t, {
    backoffInitial: 100,
    backoffMax: 100,
    random: () => 0,
    onStateChange: (s, d) => s === 'reconnecting' && delays.push(d.delay),
  });
  server.rejectUpgrades = true;
  client.subscribe('ch_1', future(), () => {});
  await until(() => delays.length >= 1, 'an attempt');
  assert.equal(delays[0], 50);
});

test("the seed's shape: channel('stripe').addMessageListener(\"id = '…'\") with the charge's token", async (t) => {
  const { client, server } = await setup(t);
  const ch = await client.charge({ token: 'tok_visa', amount: 2000 });
  const got = [];
  const sub = client.channel('stripe').addMessageListener(`id = '${ch.id}'`, (ev) => got.push(ev.id));
  await sub.ready;
  assert.equal(server.peers[0].frames[0].token, 'tok-for-ch_1');
  assert.equal(server.peers[0].frames[0].selector, "id = 'ch_1'");
  server.publish(event('evt_1', 'ch_1'));
  await until(() => got.length === 1, 'the event');
});

test('an unauthorized subscribe ends with that code when refreshing is off', async (t) => {
  const { client, server } = await setup(t, { refreshToken: null });
  server.refuse = () => ({ code: 'unauthorized', message: 'subscription token has expired' });
  const errors = [];
  const sub = client.subscribe('ch_1', 'v1.1.aWQ.mac', () => {}, { onError: (e) => errors.push(e) });
  const err = await sub.ready.then(
    () => assert.fail('subscribed'),
    (e) => e,
  );
  assert.equal(err.code, 'unauthorized');
  assert.equal(err.type, 'notifier_error');
  assert.equal(errors.length, 1);
  assert.equal(sub.closed, true);
});

test('a refused token is refreshed once and the subscribe retried with the new one', async (t) => {
  const calls = [];
  const { client, server } = await setup(t, {
    refreshToken: async (id, old) => {
      calls.push([id, old]);
      return future();
    },
  });
  let refusals = 0;
  server.refuse = (f) => (f.token === 'stale' ? (refusals++, { code: 'unauthorized' }) : undefined);
  const sub = client.subscribe('ch_1', 'stale', () => {});
  await sub.ready;
  assert.deepEqual(calls, [['ch_1', 'stale']]);
  assert.equal(refusals, 1);
  assert.notEqual(sub.token, 'stale');
  assert.equal(server.peers[0].frames.at(-1).token, sub.token);
});

test('a token that expired while disconnected is refreshed before the resubscribe', async (t) => {
  const calls = [];
  const { client, server } = await setup(t, {
    refreshToken: (id) => {
      calls.push(id);
      return future();
    },
  });
  const expired = `v1.${Math.floor(Date.now() / 1000) - 1}.aWQ.mac`;
  const sub = client.subscribe('ch_1', expired, () => {});
  await sub.ready;
  // The expired token was never sent: it was refreshed first.
  assert.deepEqual(calls, ['ch_1']);
  assert.ok(server.peers[0].frames.every((f) => f.token !== expired));
});

test('a token is renewed by the api before it expires and handed to the live subscription', async (t) => {
  // No refreshToken: the client renews through POST /Stripe/subscription-tokens.
  const { client, server, seen } = await setup(t, { refreshMargin: 3600_000 - 300 });
  const token = future();
  const sub = client.subscribe('ch_1', token, () => {});
  await sub.ready;
  await until(() => server.peers[0].frames.some((f) => f.type === 'refresh'), 'a refresh frame');
  const renew = seen.find((r) => r.url === '/Stripe/subscription-tokens');
  assert.deepEqual(renew.body, { id: 'ch_1', token });
  const refresh = server.peers[0].frames.find((f) => f.type === 'refresh');
  assert.deepEqual(refresh, { type: 'refresh', subscription: 's1', token: sub.token });
  assert.ok(sub.token.endsWith('.renewed'));
  // The refreshed answer is consumed in order: a ping still gets its pong.
  await until(() => server.peers[0].frames.length >= 2, 'frames');
});

test('a refused refresh keeps the subscription and says why', async (t) => {
  const errors = [];
  const { client, server } = await setup(t, { refreshToken: () => `v1.${Math.floor(Date.now() / 1000) + 7200}.aWQ.other` });
  server.refuseRefresh = () => true;
  const got = [];
  const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id), { onError: (e) => errors.push(e) });
  await sub.ready;
  assert.equal(await sub.refresh(), true);
  await until(() => errors.length === 1, 'the refusal');
  assert.deepEqual(server.peers[0].frames.at(-1), { type: 'refresh', subscription: 's1', token: sub.token });
  assert.equal(errors[0].code, 'unauthorized');
  server.publish(event('evt_1', 'ch_1'));
  await until(() => got.length === 1, 'an event after the refusal');
  assert.equal(sub.closed, false);
});

test('token_expired ends the subscription unless refreshToken brings a new token', async (t) => {
  const { client, server } = await setup(t, { refreshToken: null });
  const errors = [];
  const sub = client.subscribe('ch_1', future(), () => {}, { onError: (e) => errors.push(e) });
  await sub.ready;
  // A ping in flight when the unsolicited error arrives still gets its pong.
  server.peers[0].expire('s1');
  await until(() => sub.closed, 'the subscription to end');
  assert.equal(errors[0].code, 'token_expired');

  let n = 0;
  const { client: c2, server: s2 } = await setup(t, { refreshToken: () => `${future()}-minted-${++n}` });
  const got = [];
  const sub2 = c2.subscribe('ch_2', future(), (ev) => got.push(ev.id));
  await sub2.ready;
  s2.peers[0].expire('s1');
  await until(() => s2.peers[0].subs.has('s2'), 'the resubscribe');
  assert.ok(s2.peers[0].frames.at(-1).token.endsWith('-minted-1'));
  s2.publish(event('evt_9', 'ch_2'));
  await until(() => got.length === 1, 'an event on the new subscription');
});

test('close unsubscribes, delivers nothing more, and closes the socket after the last one', async (t) => {
  const { client, server } = await setup(t);
  const a = [];
  const b = [];
  const subA = client.subscribe('ch_1', future(), (ev) => a.push(ev.id));
  const subB = client.subscribe('ch_2', future(), (ev) => b.push(ev.id));
  await Promise.all([subA.ready, subB.ready]);
  subA.close();
  await until(() => server.peers[0].subs.size === 1, 'the unsubscribe');
  server.publish(event('evt_1', 'ch_1'));
  server.publish(event('evt_2', 'ch_2'));
  await until(() => b.length === 1, "ch_2's event");
  assert.deepEqual(a, []);
  subB.close();
  await until(() => server.peers[0].closed, 'the socket to close');
  assert.equal(server.peers.length, 1);
});

test('a connection that stops answering pings is replaced', async (t) => {
  const { client, server } = await setup(t, { pingInterval: 20, pongTimeout: 30 });
  const sub = client.subscribe('ch_1', future(), () => {});
  await sub.ready;
  server.silent = true; // pings go unanswered, the TCP connection stays up
  await until(() => server.peers.length >= 2, 'a new connection', 5000);
  server.silent = false;
  await until(() => server.peers.at(-1).subs.size === 1, 'the resubscribe');
});

test('selectorFor doubles quotes; tokenExpiry reads v1 and v2 tokens', () => {
  assert.equal(selectorFor("ch_'x"), "id = 'ch_''x'");
  assert.equal(tokenExpiry('v1.1700000000.aWQ.mac').getTime(), 1700000000000);
  assert.equal(tokenExpiry('v2.k1.1700000001.aWQ.mac').getTime(), 1700000001000);
  assert.equal(tokenExpiry('opaque'), undefined);
});

test('the package is an ES module with declarations and no dependencies', async () => {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.type, 'module');
  assert.equal(pkg.dependencies, undefined);
  assert.ok(pkg.files.includes(pkg.types.replace(/^\.\//, '')));
  const dts = await readFile(new URL('../' + pkg.types, import.meta.url), 'utf8');
  for (const name of ['charge', 'createPaymentIntent', 'confirmPaymentIntent', 'handleNextAction', 'subscribe', 'addMessageListener', 'decline_code', 'onGap', 'position']) {
    assert.ok(dts.includes(name), `index.d.ts lacks ${name}`);
  }
});
