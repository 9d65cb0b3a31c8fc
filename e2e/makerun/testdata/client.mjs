// The JavaScript client against make run's stack, driven by
// TestJavaScriptClientAcrossANotifierRestart: it charges, subscribes, and
// prints one JSON line per event (with what the subscription knows of its
// resume: recovered, the duplicates its dedupe dropped, the position) and
// per connection state; it exits after the event named on its command line.
//
// usage: node client.mjs <client module> <api base> <api key> <notifier url> <last event type>
const [, , modulePath, apiBase, apiKey, notifierUrl, last] = process.argv;
const { Stripeline } = await import(modulePath);

const say = (v) => process.stdout.write(JSON.stringify(v) + '\n');
// The script lives until the event named last (process.exit below): once,
// in make test, Node's event loop emptied between a reconnect and the next
// event and the script ended early; whether the client should hold the loop
// open by itself is its own question (a note of the session that found it).
const keepAlive = setInterval(() => {}, 1000);
const client = new Stripeline({
  apiBase,
  apiKey,
  notifierUrl,
  backoffInitial: 100,
  backoffMax: 1000,
  onStateChange: (state) => say({ state }),
});
const charge = await client.charge({ token: 'tok_visa', amount: 1234 });
say({ charge: charge.id });
const sub = client.subscribe(charge.id, charge.subscribe.token, (event, frame) => {
  say({
    event: event.type,
    id: event.id,
    recovered: sub.recovered ?? null,
    duplicates: sub.duplicates,
    position: frame.position ?? null,
    catch_up: frame.catchUp ?? false,
  });
  if (event.type === last) {
    clearInterval(keepAlive);
    client.close();
    process.exit(0);
  }
}, {
  onError: (err) => say({ error: err.code, message: err.message }),
  onGap: (gap) => say({ gap: true, caught_up: gap.caughtUp, delivered: gap.delivered }),
});
await sub.ready;
say({ subscribed: true });
