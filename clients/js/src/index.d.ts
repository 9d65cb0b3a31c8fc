// Type declarations of @stripeline/client (src/index.js).

/** The `subscribe` block of a charge or PaymentIntent answer. */
export interface SubscribeBlock {
  channel: 'stripe';
  /** id = '<transaction id>' */
  selector: string;
  /** subscription token for that id (v1.<expiry>.<id>.<mac>) */
  token: string;
}

/** Stripe's object as the api returns it, plus `subscribe`. */
export interface PaymentAnswer {
  id: string;
  object: string;
  status?: string;
  amount?: number;
  currency?: string;
  client_secret?: string;
  subscribe: SubscribeBlock;
  [field: string]: unknown;
}

/** What Stripe.js's handleNextAction resolves with. */
export interface StripeJsResult {
  paymentIntent?: { id: string; status: string; next_action?: unknown; [field: string]: unknown };
  error?: {
    type?: string;
    code?: string;
    decline_code?: string;
    message?: string;
    payment_intent?: { id: string; status: string; [field: string]: unknown };
    [field: string]: unknown;
  };
}

/**
 * A PaymentIntent as the api returns it. When Stripe answered
 * `requires_action` (3-D Secure), either the client's Stripe.js finished the
 * action (`nextActionResult` is Stripe.js's result, `status` and
 * `next_action` are the PaymentIntent's after it), or there was no Stripe.js
 * and `actionRequired` is true: the app must finish it (handleNextAction).
 */
export interface PaymentIntentAnswer extends PaymentAnswer {
  object: 'payment_intent';
  status: string;
  client_secret: string;
  /** Stripe's, when status is requires_action: use_stripe_sdk, redirect_to_url; null after Stripe.js finished it */
  next_action?: { type: string; [field: string]: unknown } | null;
  /** true: status is requires_action and no Stripe.js was given to finish it */
  actionRequired?: true;
  /** Stripe.js's handleNextAction result, when the client called it */
  nextActionResult?: StripeJsResult;
}

/** The part of a Stripe.js instance (Stripe(publishableKey)) the client uses. */
export interface StripeJs {
  handleNextAction(options: { clientSecret: string }): Promise<StripeJsResult>;
}

export interface ChargeParams {
  /** a card token from Stripe.js or a test token: tok_visa, tok_chargeDeclined, … */
  token: string;
  /** in the currency's minor unit, > 0 */
  amount: number;
  currency?: string;
  description?: string;
  metadata?: Record<string, string>;
}

export interface PaymentIntentParams {
  amount: number;
  currency?: string;
  description?: string;
  metadata?: Record<string, string>;
  /** a PaymentMethod (pm_…) from Stripe.js; confirmed only with confirm */
  payment_method?: string;
  /** confirm at once with payment_method: a card that needs 3-D Secure answers requires_action */
  confirm?: boolean;
  /** absolute http(s) URL a redirect-based next_action comes back to */
  return_url?: string;
  /** false authorizes only (Stripe's capture_method manual) */
  capture?: boolean;
}

export interface ConfirmParams {
  /** a PaymentMethod (pm_…) from Stripe.js */
  payment_method: string;
  return_url?: string;
}

export interface RequestOptions {
  /** sent as Idempotency-Key; without it the api makes one per request. The api
   * takes only unguessable keys (32+ characters of A-Za-z0-9-_, e.g.
   * crypto.randomUUID()): reuse one only to retry the same payment. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface ConfigAnswer {
  publishable_key: string;
  currency: string;
  currencies: string[];
}

/** One row of GET /Stripe/events: the stored event (payload) and what was read from it. */
export interface StoredEvent {
  event_id: string;
  /** data.object.id */
  id: string;
  type: string;
  object_type?: string;
  related_ids: string[];
  livemode: boolean;
  created: string | null;
  received_at: string;
  payload: StripeEvent;
  [field: string]: unknown;
}

export interface EventsPage {
  object: 'list';
  data: StoredEvent[];
  has_more: boolean;
  next_cursor?: string;
}

/** GET /Stripe/transactions/{id}: where the transaction stands, from the stored events. */
export interface TransactionAnswer {
  object: 'transaction';
  id: string;
  type: string;
  status?: string;
  /** Stripe's object as its newest event left it */
  state: Record<string, unknown>;
  event_id: string;
  event_type: string;
  event_created: string;
  livemode: boolean;
  updated_at: string;
  timeline: Array<{ event_id: string; type: string; object_id: string; status?: string; created: string | null; received_at: string }>;
  timeline_has_more: boolean;
}

/** A Stripe event as Stripe sent it (the message frame's `data`). */
export interface StripeEvent {
  id: string;
  type: string;
  created?: number;
  data?: { object?: Record<string, unknown> };
  [field: string]: unknown;
}

/**
 * A subscription's position: Kafka offsets, one per partition (-1: none).
 * Opaque to the app: store it, give it back (SubscribeOptions.position).
 */
export type Position = number[];

/**
 * The notifier's message frame (docs/websocket.md). An event read over
 * HTTP after a gap comes with a frame of the same shape, its headers from
 * the stored row, no position, and catchUp: true.
 */
export interface MessageFrame {
  type: 'message';
  subscription: string;
  channel: string;
  headers: Record<string, string>;
  data: StripeEvent;
  /** the subscription's position with this event (a notifier with positions) */
  position?: Position;
  /** true: read over HTTP (GET /Stripe/events) after a gap, not from the websocket */
  catchUp?: true;
}

/**
 * onGap's argument: a resume found that the notifier no longer had every
 * event after the subscription's position (`recovered: false`). The client
 * has read the id's stored events over HTTP and delivered, oldest first, the
 * ones not delivered before (caughtUp true), then what the websocket brought
 * meanwhile; or it could not (caughtUp false: error says why, or the
 * selector pins no single id, or catchUp was false), and the app should read
 * the state itself (transaction(), events()).
 */
export interface GapInfo {
  recovered: false;
  /** the position the resume started from */
  position: Position | undefined;
  caughtUp: boolean;
  /** events read over HTTP and delivered to onEvent */
  delivered: number;
  error?: StripelineError;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StripelineOptions {
  /** the api's base URL, e.g. http://127.0.0.1:8080 */
  apiBase: string;
  /** sent as X-API-Key */
  apiKey?: string;
  /** the notifier's websocket URL, e.g. ws://127.0.0.1:8082/ws */
  notifierUrl?: string;
  fetch?: typeof fetch;
  WebSocket?: { new (url: string): WebSocket };
  /** ms before the first reconnect (500); doubles per failed attempt */
  backoffInitial?: number;
  /** ms, the longest wait between reconnects (30000) */
  backoffMax?: number;
  /** ms between application pings (25000); 0: none */
  pingInterval?: number;
  /** ms without an answer to a ping before the connection is dropped (10000) */
  pongTimeout?: number;
  /** ms before a token's expiry at which refreshToken is called (60000) */
  refreshMargin?: number;
  /** event ids remembered per subscription to drop replays (1000) */
  dedupeSize?: number;
  /** ms for reading a gap's events over HTTP (30000) */
  catchUpTimeout?: number;
  /**
   * Stripe.js (Stripe(publishableKey)): createPaymentIntent and
   * confirmPaymentIntent call its handleNextAction when the answer is
   * requires_action (3-D Secure)
   */
  stripe?: StripeJs | null;
  /**
   * A newer token for id: called `refreshMargin` before a token expires (the
   * live subscription gets it in a `refresh` frame), and when the notifier
   * refuses a token at subscribe. Default: the api's
   * POST /Stripe/subscription-tokens (renewToken); null: never refresh, so a
   * subscription ends with `token_expired` when its token does.
   */
  refreshToken?: ((id: string, token: string | undefined) => Promise<string> | string) | null;
  /** the connection's state changes */
  onStateChange?: (state: ConnectionState, detail?: { delay?: number; code?: number; reason?: string }) => void;
  /** errors that belong to no subscription */
  onError?: (err: StripelineError) => void;
  /** for tests: the jitter source, in [0, 1) */
  random?: () => number;
}

export interface SubscribeOptions {
  /** the subscription is refused for good, or a refresh failed */
  onError?: (err: StripelineError) => void;
  onStateChange?: (state: ConnectionState, detail?: { delay?: number; code?: number; reason?: string }) => void;
  /** a resume lost events the notifier no longer had; called after the client read them over HTTP (GapInfo) */
  onGap?: (gap: GapInfo) => void;
  /** false: on a gap, only tell onGap; do not read GET /Stripe/events (default true) */
  catchUp?: boolean;
  /** start from a position the app kept (a page reload): only events after it come */
  position?: Position;
}

export interface ListenerOptions extends SubscribeOptions {
  /** the subscription token; default: the one of a charge made through this client */
  token?: string;
}

export class Subscription {
  readonly channel: string;
  readonly selector: string | undefined;
  /** the pinned transaction id, when the selector pins one */
  readonly id: string | undefined;
  token: string | undefined;
  readonly closed: boolean;
  /** the position of the last frame read; a resubscribe sends it back */
  readonly position: Position | undefined;
  /** the last resume's answer: true (nothing lost), false (a gap, see onGap), undefined before a resume */
  readonly recovered: boolean | undefined;
  /** message frames dropped because their event id had been delivered (a replay the position did not prevent) */
  readonly duplicates: number;
  /** resolves when the notifier accepts the subscription; rejects on a final refusal */
  readonly ready: Promise<Subscription>;
  /** gets a newer token now (refreshToken) and hands it to the live subscription; true when it changed */
  refresh(): Promise<boolean>;
  /** unsubscribes; no event is delivered after it returns */
  close(): void;
}

export interface Channel {
  readonly name: string;
  /** the seed's shape: addMessageListener("id = 'ch_…'", onEvent) */
  addMessageListener(
    selector: string,
    onEvent: (event: StripeEvent, frame: MessageFrame) => void,
    options?: ListenerOptions,
  ): Subscription;
}

export class Stripeline {
  constructor(options: StripelineOptions);
  readonly apiBase: string;
  apiKey: string | undefined;
  notifierUrl: string | undefined;
  config(options?: RequestOptions): Promise<ConfigAnswer>;
  charge(params: ChargeParams, options?: RequestOptions): Promise<PaymentAnswer>;
  /** Stripe.js for 3-D Secure (options.stripe); may be set later */
  stripe: StripeJs | null;
  /**
   * POST /Stripe/payment-intents. With payment_method and confirm: true, a
   * requires_action answer is finished with Stripe.js when the client has it
   * (rejects with Stripe.js's error, `paymentIntent` set, when that fails),
   * or comes back with actionRequired: true.
   */
  createPaymentIntent(params: PaymentIntentParams, options?: RequestOptions): Promise<PaymentIntentAnswer>;
  /**
   * POST /Stripe/payment-intents/{id}/confirm with the PaymentIntent's
   * subscription token (undefined: the one remembered from its creation
   * here); requires_action is handled as in createPaymentIntent.
   */
  confirmPaymentIntent(id: string, params: ConfirmParams, token?: string, options?: RequestOptions): Promise<PaymentIntentAnswer>;
  /**
   * Finishes a requires_action answer with Stripe.js (the argument, else
   * the client's); other answers come back as they are.
   */
  handleNextAction(paymentIntent: PaymentIntentAnswer, stripe?: StripeJs | null): Promise<PaymentIntentAnswer>;
  /** GET /Stripe/transactions/{id}: the latest state and the timeline */
  transaction(id: string, token: string | undefined, options?: RequestOptions): Promise<TransactionAnswer>;
  events(
    id: string,
    token: string | undefined,
    query?: { related?: boolean; limit?: number; cursor?: string },
    options?: RequestOptions,
  ): Promise<EventsPage>;
  /** POST /Stripe/subscription-tokens: a newer token for id, given its still-valid one */
  renewToken(id: string, token: string, options?: RequestOptions): Promise<string>;
  /**
   * Listens to one transaction's events, each event once across reconnects:
   * a reconnect resubscribes from the subscription's position, and a gap
   * (the notifier no longer had every event after it) is read over HTTP
   * (onGap). token: the answer's subscribe.token; undefined uses the one
   * remembered from a payment made through this client.
   */
  subscribe(
    id: string,
    token: string | undefined,
    onEvent: (event: StripeEvent, frame: MessageFrame) => void,
    options?: SubscribeOptions,
  ): Subscription;
  /** the seed's call shape: channel('stripe').addMessageListener("id = '…'", onEvent) */
  channel(name: string): Channel;
  /** ends every subscription and the connection */
  close(): void;
}

export class StripelineError extends Error {
  /**
   * the api's error type (card_error, invalid_request, …), notifier_error
   * (code unauthorized, token_expired, …), network, refresh_failed, or
   * Stripe.js's (card_error, …) when 3-D Secure failed
   */
  type: string;
  /** HTTP status of an api error */
  status?: number;
  /** the api's or the notifier's code: card_declined, expired_card, unauthorized, … */
  code?: string;
  /** a decline's reason: insufficient_funds, generic_decline, … */
  decline_code?: string;
  readonly declineCode?: string;
  /** the request field a 400 is about */
  field?: string;
  /** the declined charge's id */
  charge?: string;
  /** seconds, from Retry-After (429, 503) */
  retryAfter?: number;
  /** the error body as the api sent it (Stripe.js's error, when 3-D Secure failed) */
  body?: unknown;
  /** when Stripe.js could not finish 3-D Secure: the api's PaymentIntent (subscribe block included) */
  paymentIntent?: PaymentIntentAnswer;
}

export const CloseCodes: Readonly<{ GOING_AWAY: 1001; MESSAGE_TOO_BIG: 1009; QUEUE_OVERFLOW: 4008 }>;

/** id = '<id>', quotes doubled */
export function selectorFor(id: string): string;

/** a token's expiry, when its format says */
export function tokenExpiry(token: string): Date | undefined;
