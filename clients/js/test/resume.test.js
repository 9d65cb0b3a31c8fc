// Resuming after a reconnect: from the subscription's position
// (docs/websocket.md, "Reconnecting and resuming"), over HTTP when the
// notifier lost some of what came after it, and by event id when a
// notifier replays its whole window.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { until, event } from './notifier.js';
import { setup, future, stored } from './api.js';

// messages is the event ids of the message frames peer sent.
const messages = (peer) => peer.sent.filter((f) => f.type === 'message').map((f) => f.data.id);

const cuts = [
  ['close 1001 (the instance stops)', (p) => p.close(1001, 'shutting down')],
  ['close 4008 (send queue overflow)', (p) => p.close(4008, 'too slow')],
  ['a dropped TCP connection', (p) => p.drop()],
];

for (const [name, cut] of cuts) {
  test(`after ${name} it resubscribes from its position and gets only what came after it`, async (t) => {
    const { client, server } = await setup(t);
    const got = [];
    const states = [];
    const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id), { onStateChange: (s) => states.push(s) });
    await sub.ready;
    server.publish(event('evt_1', 'ch_1'));
    server.publish(event('evt_other', 'ch_2')); // another partition moves on
    await until(() => got.length === 1, 'the first event');
    const last = server.peers[0].sent.filter((f) => f.subscription === 's1').at(-1).position;
    assert.deepEqual(sub.position, last);

    cut(server.peers[0]);
    // While it is away: an event the resume must bring.
    server.publish(event('evt_2', 'ch_1'));
    await until(() => server.peers.length === 2 && server.peers[1].subs.size === 1, 'the resubscribe');
    server.publish(event('evt_3', 'ch_1'));
    await until(() => got.length === 3, 'three events');

    const resubscribe = server.peers[1].frames[0];
    assert.deepEqual(resubscribe, { type: 'subscribe', channel: 'stripe', selector: "id = 'ch_1'", token: sub.token, position: last });
    assert.equal(server.peers[1].sent[0].recovered, true);
    assert.equal(sub.recovered, true);
    // Nothing the client had read came again: the position, not the
    // client's dedupe, kept evt_1 away.
    assert.deepEqual(messages(server.peers[1]), ['evt_2', 'evt_3']);
    assert.equal(sub.duplicates, 0);
    assert.deepEqual(got, ['evt_1', 'evt_2', 'evt_3']);
    assert.deepEqual(sub.position, server.peers[1].sent.at(-1).position);
    assert.ok(states.includes('reconnecting'), `states ${states}`);
  });
}

for (const [name, serverOptions, sendsPosition] of [
  ['a notifier without positions replays its window', { positions: false }, false],
  ['a notifier that replays despite the position', {}, true],
]) {
  test(`${name}: what was delivered is dropped by event id`, async (t) => {
    const { client, server } = await setup(t);
    Object.assign(server, serverOptions);
    server.ignorePositions = sendsPosition;
    const got = [];
    const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id));
    await sub.ready;
    server.publish(event('evt_1', 'ch_1'));
    await until(() => got.length === 1, 'the first event');
    server.peers[0].close(1001);
    server.publish(event('evt_2', 'ch_1'));
    await until(() => server.peers.length === 2 && server.peers[1].subs.size === 1, 'the resubscribe');
    server.publish(event('evt_3', 'ch_1'));
    await until(() => got.length === 3, 'three events');

    assert.equal('position' in server.peers[1].frames[0], sendsPosition);
    assert.deepEqual(messages(server.peers[1]), ['evt_1', 'evt_2', 'evt_3']);
    assert.deepEqual(got, ['evt_1', 'evt_2', 'evt_3']);
    assert.equal(sub.duplicates, 1);
  });
}

// away cuts the client off and keeps it off while during() runs.
async function away(server, during) {
  server.rejectUpgrades = true;
  server.peers.at(-1).drop();
  await during();
  server.rejectUpgrades = false;
}

test('a position that left the window: recovered false, the missed events read over HTTP in order and once, then the live ones', async (t) => {
  const { client, server, state, seen } = await setup(t);
  state.pageSize = 2; // the catch-up pages
  const publish = (ev) => {
    state.stored.push(stored(ev));
    server.publish(ev);
  };
  const got = [];
  const frames = [];
  const gaps = [];
  const sub = client.subscribe(
    'ch_1',
    future(),
    (ev, frame) => {
      got.push(ev.id);
      frames.push(frame);
    },
    { onGap: (g) => gaps.push({ ...g, got: [...got] }) },
  );
  await sub.ready;
  publish(event('evt_1', 'ch_1'));
  await until(() => got.length === 1, 'the first event');
  const position = sub.position;

  await away(server, () => {
    publish(event('evt_2', 'ch_1'));
    publish(event('evt_3', 'ch_1', 'charge.updated'));
    publish(event('evt_4', 'ch_1', 'charge.refunded'));
    server.evict(3); // evt_1 to evt_3 leave the window; evt_4 is still in it
  });
  await until(() => gaps.length === 1, 'the gap');
  publish(event('evt_5', 'ch_1'));
  await until(() => got.length === 5, 'five events');

  assert.deepEqual(server.peers.at(-1).frames[0].position, position);
  assert.equal(sub.recovered, false);
  // The window's replay (evt_4) came while the HTTP pages were read: it
  // waits for them, and is not delivered twice.
  assert.deepEqual(got, ['evt_1', 'evt_2', 'evt_3', 'evt_4', 'evt_5']);
  assert.equal(gaps[0].recovered, false);
  assert.equal(gaps[0].caughtUp, true);
  assert.equal(gaps[0].delivered, 3);
  assert.equal(gaps[0].error, undefined);
  assert.deepEqual(gaps[0].position, position);
  assert.deepEqual(gaps[0].got, ['evt_1', 'evt_2', 'evt_3', 'evt_4']);
  const reads = seen.filter((r) => r.url.startsWith('/Stripe/events?'));
  assert.deepEqual(reads.map((r) => r.url), ['/Stripe/events?id=ch_1&limit=100', '/Stripe/events?id=ch_1&limit=100&cursor=2']);
  assert.equal(reads[0].headers['x-subscription-token'], sub.token);
  assert.equal(frames[1].catchUp, true);
  assert.equal(frames[1].headers.event_id, 'evt_2');
  assert.equal(frames[1].headers.event_type, 'charge.succeeded');
  assert.equal(frames[4].catchUp, undefined);
  assert.equal(sub.duplicates, 0);
});

test('a gap that cannot be read over HTTP: onGap gets the error, and the window and live events still come', async (t) => {
  const { client, server, state } = await setup(t);
  state.eventsDown = true;
  const got = [];
  const gaps = [];
  const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id), { onGap: (g) => gaps.push(g) });
  await sub.ready;
  server.publish(event('evt_1', 'ch_1'));
  await until(() => got.length === 1, 'the first event');
  await away(server, () => {
    server.publish(event('evt_2', 'ch_1'));
    server.publish(event('evt_3', 'ch_1'));
    server.evict(2);
  });
  await until(() => gaps.length === 1, 'the gap');
  server.publish(event('evt_4', 'ch_1'));
  await until(() => got.length === 3, 'the window and the live event');
  assert.deepEqual(got, ['evt_1', 'evt_3', 'evt_4']);
  assert.equal(gaps[0].caughtUp, false);
  assert.equal(gaps[0].error.status, 503);
  assert.equal(gaps[0].error.code, 'event_store_unavailable');
});

test('catchUp: false tells onGap and reads nothing over HTTP', async (t) => {
  const { client, server, seen } = await setup(t);
  const gaps = [];
  const sub = client.subscribe('ch_1', future(), () => {}, { catchUp: false, onGap: (g) => gaps.push(g) });
  await sub.ready;
  server.publish(event('evt_1', 'ch_1'));
  await until(() => sub.position?.some((o) => o >= 0), 'a position');
  await away(server, () => {
    server.publish(event('evt_2', 'ch_1'));
    server.evict(2);
  });
  await until(() => gaps.length === 1, 'the gap');
  assert.equal(gaps[0].caughtUp, false);
  assert.equal(gaps[0].delivered, 0);
  assert.ok(!seen.some((r) => r.url.startsWith('/Stripe/events')));
});

test('a subscription given a kept position (a page reload) gets only what came after it', async (t) => {
  const { client, server } = await setup(t);
  const kept = server.publish(event('evt_1', 'ch_1'));
  server.publish(event('evt_2', 'ch_1'));
  const got = [];
  const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id), { position: kept });
  await sub.ready;
  await until(() => got.length === 1, 'the event after the position');
  assert.deepEqual(server.peers[0].frames[0].position, kept);
  assert.equal(sub.recovered, true);
  assert.deepEqual(messages(server.peers[0]), ['evt_2']);
  assert.deepEqual(got, ['evt_2']);
});

test('a new subscription sends no position and gets the window', async (t) => {
  const { client, server } = await setup(t);
  server.publish(event('evt_1', 'ch_1'));
  const got = [];
  const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id));
  await sub.ready;
  await until(() => got.length === 1, 'the replayed event');
  assert.equal('position' in server.peers[0].frames[0], false);
  assert.equal(sub.recovered, undefined);
});

test('a resubscribe after token_expired carries the position', async (t) => {
  const { client, server } = await setup(t, { refreshToken: () => `${future()}-minted` });
  const got = [];
  const sub = client.subscribe('ch_1', future(), (ev) => got.push(ev.id));
  await sub.ready;
  server.publish(event('evt_1', 'ch_1'));
  await until(() => got.length === 1, 'the first event');
  const position = sub.position;
  server.peers[0].expire('s1');
  await until(() => server.peers[0].subs.has('s2'), 'the resubscribe');
  assert.deepEqual(server.peers[0].frames.at(-1).position, position);
  server.publish(event('evt_2', 'ch_1'));
  await until(() => got.length === 2, 'the next event');
  assert.deepEqual(messages(server.peers[0]), ['evt_1', 'evt_2']);
  assert.equal(sub.duplicates, 0);
});
