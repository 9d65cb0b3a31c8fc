// 3-D Secure: a PaymentIntent confirmed with a PaymentMethod that Stripe
// asks to authenticate answers requires_action (docs/api.md, "3-D
// Secure"); the client finishes it with Stripe.js when it has it. Stripe.js
// is a browser library loaded from js.stripe.com, so here it is a fake with
// its public method, handleNextAction({clientSecret}).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Stripeline, StripelineError } from '../src/index.js';
import { setup } from './api.js';

// fakeStripe records handleNextAction's calls and answers with result
// (Stripe.js resolves {paymentIntent} or {error}; it never rejects).
function fakeStripe(result) {
  const calls = [];
  return {
    calls,
    async handleNextAction(options) {
      calls.push(options);
      return result;
    },
  };
}

const threeDS = { amount: 2000, payment_method: 'pm_card_threeDSecure2Required', confirm: true, return_url: 'https://shop.example/done' };

test('createPaymentIntent sends payment_method, confirm and return_url; without Stripe.js requires_action comes back with actionRequired', async (t) => {
  const { client, seen } = await setup(t);
  const pi = await client.createPaymentIntent(threeDS);
  assert.deepEqual(seen[0].body, threeDS);
  assert.equal(pi.status, 'requires_action');
  assert.equal(pi.actionRequired, true);
  assert.equal(pi.client_secret, 'pi_3ds_secret_x');
  assert.equal(pi.next_action.type, 'use_stripe_sdk');
  assert.equal(pi.subscribe.token, 'tok-for-pi_3ds');
  assert.equal(pi.nextActionResult, undefined);
});

test("with Stripe.js, requires_action is finished by handleNextAction({clientSecret}) and the answer carries the outcome", async (t) => {
  const stripe = fakeStripe({ paymentIntent: { id: 'pi_3ds', object: 'payment_intent', status: 'succeeded', next_action: null } });
  const { client } = await setup(t, { stripe });
  const pi = await client.createPaymentIntent(threeDS);
  assert.deepEqual(stripe.calls, [{ clientSecret: 'pi_3ds_secret_x' }]);
  assert.equal(pi.status, 'succeeded');
  assert.equal(pi.next_action, null);
  assert.equal(pi.actionRequired, undefined);
  assert.deepEqual(pi.nextActionResult, { paymentIntent: { id: 'pi_3ds', object: 'payment_intent', status: 'succeeded', next_action: null } });
  // What to subscribe with is kept, to hear payment_intent.succeeded.
  assert.equal(pi.subscribe.token, 'tok-for-pi_3ds');
});

test("a failed authentication rejects with Stripe.js's type and code, and the PaymentIntent to subscribe to", async (t) => {
  const stripe = fakeStripe({
    error: {
      type: 'card_error',
      code: 'payment_intent_authentication_failure',
      message: 'We are unable to authenticate your payment method.',
      payment_intent: { id: 'pi_3ds', status: 'requires_payment_method' },
    },
  });
  const { client } = await setup(t, { stripe });
  const err = await client.createPaymentIntent(threeDS).then(
    () => assert.fail('resolved'),
    (e) => e,
  );
  assert.ok(err instanceof StripelineError);
  assert.equal(err.type, 'card_error');
  assert.equal(err.code, 'payment_intent_authentication_failure');
  assert.equal(err.message, 'We are unable to authenticate your payment method.');
  assert.equal(err.paymentIntent.id, 'pi_3ds');
  assert.equal(err.paymentIntent.status, 'requires_payment_method');
  assert.equal(err.paymentIntent.subscribe.token, 'tok-for-pi_3ds');
});

test('an answer that needs no action never calls Stripe.js', async (t) => {
  const stripe = fakeStripe({ paymentIntent: { status: 'succeeded' } });
  const { client } = await setup(t, { stripe });
  const done = await client.createPaymentIntent({ amount: 2000, payment_method: 'pm_card_visa', confirm: true });
  assert.equal(done.status, 'succeeded');
  const open = await client.createPaymentIntent({ amount: 2000 });
  assert.equal(open.status, 'requires_payment_method');
  assert.deepEqual(stripe.calls, []);
  assert.equal(done.actionRequired, undefined);
  assert.equal(open.actionRequired, undefined);
});

test('confirmPaymentIntent sends the remembered token and finishes 3-D Secure the same way', async (t) => {
  const stripe = fakeStripe({ paymentIntent: { id: 'pi_1', status: 'processing' } });
  const { client, seen } = await setup(t, { stripe });
  await client.createPaymentIntent({ amount: 500 }); // pi_1, its token remembered
  const pi = await client.confirmPaymentIntent('pi_1', { payment_method: 'pm_card_threeDSecure2Required', return_url: 'https://shop.example/done' });
  const req = seen.at(-1);
  assert.equal(req.url, '/Stripe/payment-intents/pi_1/confirm');
  assert.equal(req.headers['x-subscription-token'], 'tok-for-pi_1');
  assert.deepEqual(req.body, { payment_method: 'pm_card_threeDSecure2Required', return_url: 'https://shop.example/done' });
  assert.deepEqual(stripe.calls, [{ clientSecret: 'pi_1_secret_x' }]);
  assert.equal(pi.status, 'processing');

  const wrong = await client.confirmPaymentIntent('pi_2', { payment_method: 'pm_x' }, 'tok-for-pi_1').catch((e) => e);
  assert.equal(wrong.status, 403);
  assert.equal(wrong.code, 'subscription_token_invalid');
});

test('handleNextAction finishes an answer later, with a Stripe.js loaded after it', async (t) => {
  const { client } = await setup(t);
  const pi = await client.createPaymentIntent(threeDS);
  assert.equal(pi.actionRequired, true);
  const stripe = fakeStripe({ paymentIntent: { id: 'pi_3ds', status: 'succeeded' } });
  const done = await client.handleNextAction(pi, stripe);
  assert.deepEqual(stripe.calls, [{ clientSecret: 'pi_3ds_secret_x' }]);
  assert.equal(done.status, 'succeeded');
  assert.equal(done.actionRequired, undefined);
});

test('options.stripe must be Stripe.js', () => {
  assert.throws(() => new Stripeline({ apiBase: 'http://127.0.0.1:1', stripe: {} }), /handleNextAction/);
});
