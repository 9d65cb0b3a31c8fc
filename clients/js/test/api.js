// The api's side of the client's unit tests: a stub of its routes
// (docs/api.md, docs/openapi.yaml) on the same server as the stand-in
// notifier, and setup, which starts both and a client pointed at them.

import { Stripeline } from '../src/index.js';
import { startNotifier } from './notifier.js';

/** future is a v1 token for ch_… that expires in an hour. */
export const future = () => `v1.${Math.floor(Date.now() / 1000) + 3600}.aWQ.mac`;

// A PaymentIntent that Stripe asks to authenticate (3-D Secure), as the api
// passes it on.
function requiresAction(id) {
  return {
    id,
    object: 'payment_intent',
    status: 'requires_action',
    client_secret: `${id}_secret_x`,
    next_action: { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: 'https://hooks.stripe.com/…' } },
    subscribe: { channel: 'stripe', selector: `id = '${id}'`, token: `tok-for-${id}` },
  };
}

// apiStub answers the api's routes as the real api does. state.seen gets
// every request; state.stored holds the rows GET /Stripe/events pages
// through (state.pageSize a page), state.eventsDown makes it a 503.
function apiStub(state) {
  return (req, res, body) => {
    state.seen.push({ method: req.method, url: req.url, headers: req.headers, body: body ? JSON.parse(body) : undefined });
    const json = (status, v, headers = {}) => res.writeHead(status, { 'Content-Type': 'application/json', ...headers }).end(JSON.stringify(v));
    if (req.headers['x-api-key'] !== 'key_0123456789abcdef') {
      return json(401, { error: { type: 'authentication_error', code: 'missing_api_key', message: 'no API key' } });
    }
    const b = body ? JSON.parse(body) : {};
    const url = new URL(req.url, 'http://api');
    if (url.pathname === '/Stripe/charge' && b.token === 'tok_chargeDeclined') {
      return json(402, {
        error: { type: 'card_error', code: 'card_declined', decline_code: 'generic_decline', message: 'Your card was declined.', charge: 'ch_declined' },
      });
    }
    if (url.pathname === '/Stripe/charge' && b.token === 'tok_busy') {
      return json(429, { error: { type: 'rate_limited', code: 'rate_limited', message: 'slow down' } }, { 'Retry-After': '3' });
    }
    if (url.pathname === '/Stripe/charge') {
      return json(200, { id: 'ch_1', object: 'charge', amount: b.amount, subscribe: { channel: 'stripe', selector: "id = 'ch_1'", token: 'tok-for-ch_1' } });
    }
    if (url.pathname === '/Stripe/payment-intents') {
      if (b.confirm && b.payment_method === 'pm_card_threeDSecure2Required') return json(200, requiresAction('pi_3ds'));
      if (b.confirm && b.payment_method) {
        return json(200, { id: 'pi_ok', object: 'payment_intent', status: 'succeeded', client_secret: 'pi_ok_secret', next_action: null, subscribe: { channel: 'stripe', selector: "id = 'pi_ok'", token: 'tok-for-pi_ok' } });
      }
      return json(200, { id: 'pi_1', object: 'payment_intent', status: 'requires_payment_method', client_secret: 'pi_1_secret', subscribe: { channel: 'stripe', selector: "id = 'pi_1'", token: 'tok-for-pi_1' } });
    }
    const confirm = /^\/Stripe\/payment-intents\/([^/]+)\/confirm$/.exec(url.pathname);
    if (confirm) {
      if (req.headers['x-subscription-token'] !== `tok-for-${confirm[1]}`) {
        return json(403, { error: { type: 'authentication_error', code: 'subscription_token_invalid', message: 'the token does not open this PaymentIntent' } });
      }
      return json(200, requiresAction(confirm[1]));
    }
    if (url.pathname === '/Stripe/events') {
      if (state.eventsDown) return json(503, { error: { type: 'unavailable', code: 'event_store_unavailable', message: 'the event store is down' } }, { 'Retry-After': '1' });
      const id = url.searchParams.get('id');
      const rows = state.stored.filter((r) => r.id === id || r.related_ids.includes(id));
      const from = Number(url.searchParams.get('cursor') ?? 0);
      const size = state.pageSize ?? Number(url.searchParams.get('limit') ?? 100);
      const page = rows.slice(from, from + size);
      const more = from + size < rows.length;
      return json(200, { object: 'list', data: page, has_more: more, ...(more ? { next_cursor: String(from + size) } : {}) });
    }
    const tx = /^\/Stripe\/transactions\/([^/]+)$/.exec(url.pathname);
    if (tx) {
      return json(200, { object: 'transaction', id: tx[1], type: 'charge', status: 'succeeded', state: { id: tx[1], status: 'succeeded' }, timeline: [], timeline_has_more: false });
    }
    if (url.pathname === '/Stripe/subscription-tokens') {
      if (b.token?.startsWith('v1.1.')) {
        return json(403, { error: { type: 'authentication_error', code: 'subscription_token_expired', message: 'expired' } });
      }
      return json(200, { subscribe: { channel: 'stripe', selector: `id = '${b.id}'`, token: `v1.${Math.floor(Date.now() / 1000) + 7200}.aWQ.renewed` } });
    }
    if (url.pathname === '/Stripe/config') return json(200, { publishable_key: 'pk_test_x', currency: 'usd', currencies: ['usd'] });
    json(404, { error: { type: 'invalid_request', message: 'no route' } });
  };
}

/** stored is the row GET /Stripe/events answers for a Stripe event. */
export function stored(ev) {
  const related = ev.data?.object?.payment_intent ? [ev.data.object.payment_intent] : [];
  return {
    event_id: ev.id,
    id: ev.data?.object?.id,
    type: ev.type,
    object_type: ev.data?.object?.object,
    related_ids: related,
    livemode: false,
    created: new Date(ev.created * 1000).toISOString(),
    received_at: new Date().toISOString(),
    payload: ev,
  };
}

/**
 * setup starts the stand-in notifier with the api stub and a client of
 * both (options for the client, serverOptions for startNotifier); both
 * stop after the test.
 */
export async function setup(t, options = {}, serverOptions = {}) {
  const state = { seen: [], stored: [] };
  const server = await startNotifier({ http: apiStub(state), ...serverOptions });
  const client = new Stripeline({
    apiBase: server.httpUrl,
    apiKey: 'key_0123456789abcdef',
    notifierUrl: server.wsUrl,
    backoffInitial: 10,
    backoffMax: 40,
    ...options,
  });
  t.after(async () => {
    client.close();
    await server.stop();
  });
  return { server, client, seen: state.seen, state };
}
