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
  payment_method?: string;
}

export interface RequestOptions {
  /** sent as Idempotency-Key; without it the api makes one per request */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export interface ConfigAnswer {
  publishable_key: string;
  currency: string;
  currencies: string[];
}

export interface EventsPage {
  object: 'list';
  data: Array<Record<string, unknown>>;
  has_more: boolean;
  next_cursor?: string;
}

/** A Stripe event as Stripe sent it (the message frame's `data`). */
export interface StripeEvent {
  id: string;
  type: string;
  created?: number;
  data?: { object?: Record<string, unknown> };
  [field: string]: unknown;
}

/** The notifier's message frame (docs/websocket.md). */
export interface MessageFrame {
  type: 'message';
  subscription: string;
  channel: string;
  headers: Record<string, string>;
  data: StripeEvent;
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
  createPaymentIntent(params: PaymentIntentParams, options?: RequestOptions): Promise<PaymentAnswer>;
  events(
    id: string,
    token: string | undefined,
    query?: { related?: boolean; limit?: number; cursor?: string },
    options?: RequestOptions,
  ): Promise<EventsPage>;
  /** POST /Stripe/subscription-tokens: a newer token for id, given its still-valid one */
  renewToken(id: string, token: string, options?: RequestOptions): Promise<string>;
  /**
   * Listens to one transaction's events, each event once across reconnects.
   * token: the answer's subscribe.token; undefined uses the one remembered
   * from a charge made through this client.
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
  /** the api's error type (card_error, invalid_request, …), notifier_error (code unauthorized, token_expired, …), network, refresh_failed */
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
  /** the error body as the api sent it */
  body?: unknown;
}

export const CloseCodes: Readonly<{ GOING_AWAY: 1001; MESSAGE_TOO_BIG: 1009; QUEUE_OVERFLOW: 4008 }>;

/** id = '<id>', quotes doubled */
export function selectorFor(id: string): string;

/** a token's expiry, when its format says */
export function tokenExpiry(token: string): Date | undefined;
