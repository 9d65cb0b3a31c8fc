// The demo checkout: the JavaScript client (stripeline.js, the same file as
// clients/js/src/index.js) against the api that serves this page and the
// notifier named in config.json. A test card token is charged
// (POST /Stripe/charge); a card typed into Stripe.js is paid with a
// PaymentIntent confirmed at once, and 3-D Secure, when the card asks for
// it, is finished by Stripe.js through the client.
import { Stripeline, StripelineError } from './stripeline.js';

const $ = (id) => document.getElementById(id);
const config = await (await fetch('config.json')).json();

// The API key: from the link make run prints (#key=…, never sent to a
// server), else the last one typed here.
const fromHash = new URLSearchParams(location.hash.slice(1)).get('key');
$('api-key').value = fromHash ?? localStorage.getItem('stripeline-demo-key') ?? '';

let stripe = null; // Stripe.js, once loaded with a publishable key
let card = null;
let client = null;

$('load-stripejs').addEventListener('click', async () => {
  const hint = $('stripejs-hint');
  let pk = '';
  try {
    pk = (await new Stripeline({ apiBase: location.origin }).config()).publishable_key;
  } catch (err) {
    hint.textContent = `GET /Stripe/config failed: ${err.message}`;
    return;
  }
  if (!/^pk_(test|live)_[A-Za-z0-9]{24,}$/.test(pk ?? '')) {
    // make run's stand-in (pk_test_stripeline) is no key Stripe.js can use.
    hint.textContent = 'STRIPE_PUBLISHABLE_KEY is not a key from your Stripe dashboard: use a test card.';
    return;
  }
  const script = document.createElement('script');
  script.src = 'https://js.stripe.com/v3/';
  script.onerror = () => {
    hint.textContent = 'Stripe.js could not load (offline?): use a test card.';
  };
  script.onload = () => {
    stripe = globalThis.Stripe(pk);
    card = stripe.elements().create('card');
    $('stripe-card').hidden = false;
    card.mount('#stripe-card');
    $('card-stripejs').hidden = false;
    $('card').value = 'stripejs';
    hint.textContent =
      'Stripe.js loaded: type a test card number, e.g. 4242 4242 4242 4242, or 4000 0027 6000 3184 for 3-D Secure.';
  };
  document.head.append(script);
});

// pay charges a test card token, or pays the card typed into Stripe.js
// with a PaymentIntent (3-D Secure through Stripe.js when the card asks).
async function pay(amount) {
  const choice = $('card').value;
  if (choice !== 'stripejs') return client.charge({ token: choice, amount });
  const { paymentMethod, error } = await stripe.createPaymentMethod({ type: 'card', card });
  if (error) throw new StripelineError(error.message, { type: 'stripejs', code: error.code, decline_code: error.decline_code });
  return client.createPaymentIntent({
    amount,
    payment_method: paymentMethod.id,
    confirm: true,
    return_url: location.href.split('#')[0],
  });
}

function show(dl, fields) {
  dl.replaceChildren();
  for (const [k, v] of fields) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v ?? '';
    dd.dataset.field = k;
    dl.append(dt, dd);
  }
}

$('pay-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const apiKey = $('api-key').value.trim();
  localStorage.setItem('stripeline-demo-key', apiKey);
  client?.close();
  client = new Stripeline({
    apiBase: location.origin,
    apiKey,
    notifierUrl: config.notifier_url,
    stripe, // null until Stripe.js is loaded: test cards need no 3-D Secure
    onStateChange: (state) => {
      $('conn-state').textContent = `(websocket ${state})`;
      $('conn-state').dataset.state = state;
    },
  });
  $('pay').disabled = true;
  $('result').hidden = false;
  $('events').replaceChildren();
  const err = $('error');
  err.hidden = true;
  delete err.dataset.code;
  delete err.dataset.declineCode;
  const note = (type, text) => {
    const li = document.createElement('li');
    li.dataset.type = type;
    li.className = 'note';
    li.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
    $('events').append(li);
  };
  const listen = (id, token) =>
    client.subscribe(id, token, (event, frame) => {
      const li = document.createElement('li');
      li.dataset.type = event.type;
      li.dataset.eventId = event.id;
      const how = frame.catchUp ? '  (read over HTTP after a gap)' : '';
      li.textContent = `${new Date().toLocaleTimeString()}  ${event.type}  ${event.id}${how}`;
      $('events').append(li);
    }, {
      onError: (e2) => {
        err.hidden = false;
        err.textContent = `websocket: ${e2.code}: ${e2.message}`;
      },
      // Away longer than the notifier's window: what it no longer had was
      // read from the api (GET /Stripe/events) and is in the list above.
      onGap: (gap) =>
        note('gap', gap.caughtUp
          ? `reconnected after a gap: ${gap.delivered} event(s) read over HTTP`
          : `reconnected after a gap; the events could not be read: ${gap.error?.message ?? 'no single id'}`),
    });
  try {
    const out = await pay(Number($('amount').value));
    const fields = [
      ['id', out.id],
      ['status', out.status],
      ['amount', `${out.amount} ${out.currency}`],
    ];
    if (out.object === 'charge') fields.push(['outcome', out.outcome?.seller_message]);
    if (out.nextActionResult) fields.push(['3-D Secure', 'authenticated with Stripe.js']);
    if (out.actionRequired) fields.push(['3-D Secure', `required: ${out.next_action?.type}`]);
    show($('charge'), fields);
    listen(out.id, out.subscribe.token);
  } catch (e2) {
    // 3-D Secure that failed still has a PaymentIntent whose events come.
    if (e2.paymentIntent) listen(e2.paymentIntent.id, e2.paymentIntent.subscribe.token);
    const failed = e2.charge ?? e2.paymentIntent?.id;
    show($('charge'), failed ? [['id', failed], ['status', e2.paymentIntent?.status ?? 'failed']] : []);
    err.hidden = false;
    err.dataset.code = e2.code ?? '';
    err.dataset.declineCode = e2.decline_code ?? '';
    err.textContent = [e2.status && `HTTP ${e2.status}`, e2.code, e2.decline_code && `(${e2.decline_code})`, e2.message]
      .filter(Boolean)
      .join(' ');
  } finally {
    $('pay').disabled = false;
  }
});
