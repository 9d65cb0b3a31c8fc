// The demo checkout: the JavaScript client (stripeline.js, the same file as
// clients/js/src/index.js) against the api that serves this page and the
// notifier named in config.json.
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
    hint.textContent = 'Stripe.js loaded: type a test card number, e.g. 4242 4242 4242 4242.';
  };
  document.head.append(script);
});

async function cardToken() {
  const choice = $('card').value;
  if (choice !== 'stripejs') return choice;
  const { token, error } = await stripe.createToken(card);
  if (error) throw new StripelineError(error.message, { type: 'stripejs', code: error.code, decline_code: error.decline_code });
  return token.id;
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
  try {
    const ch = await client.charge({ token: await cardToken(), amount: Number($('amount').value) });
    show($('charge'), [
      ['id', ch.id],
      ['status', ch.status],
      ['amount', `${ch.amount} ${ch.currency}`],
      ['outcome', ch.outcome?.seller_message],
    ]);
    client.subscribe(ch.id, ch.subscribe.token, (event) => {
      const li = document.createElement('li');
      li.dataset.type = event.type;
      li.dataset.eventId = event.id;
      li.textContent = `${new Date().toLocaleTimeString()}  ${event.type}  ${event.id}`;
      $('events').append(li);
    }, {
      onError: (e2) => {
        err.hidden = false;
        err.textContent = `websocket: ${e2.code}: ${e2.message}`;
      },
    });
  } catch (e2) {
    show($('charge'), e2.charge ? [['id', e2.charge], ['status', 'failed']] : []);
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
