// stripeline's JavaScript client: charge through the api, then hear how the
// payment ended over the notifier's websocket (docs/websocket.md), resuming
// after a reconnect from the subscription's position; and finish 3-D Secure
// with Stripe.js when a PaymentIntent asks for it.
//
// An ES module with no dependencies. It runs in browsers and in Node 18+
// (Node before 22 needs a WebSocket implementation: pass one as
// options.WebSocket, or run with --experimental-websocket).

/**
 * An error of the api (its `{"error":{…}}` body, with the HTTP status), of
 * the notifier (an error frame), or of the network (`type` "network").
 */
export class StripelineError extends Error {
  constructor(message, fields = {}) {
    super(message);
    this.name = 'StripelineError';
    this.type = fields.type ?? 'api_error';
    this.status = fields.status; // HTTP status; undefined for notifier errors
    this.code = fields.code; // the api's or the notifier's code
    this.decline_code = fields.decline_code; // a card decline's reason
    this.field = fields.field; // the request field a 400 is about
    this.charge = fields.charge; // the declined charge's id
    this.retryAfter = fields.retryAfter; // seconds, from Retry-After
    this.body = fields.body; // the parsed error body, as the api sent it
    this.paymentIntent = fields.paymentIntent; // the api's PaymentIntent whose 3-D Secure failed
  }

  /** declineCode is decline_code, camel-cased. */
  get declineCode() {
    return this.decline_code;
  }
}

/** Close codes of the notifier (docs/websocket.md, "Close codes"). */
export const CloseCodes = Object.freeze({
  GOING_AWAY: 1001, // the instance is shutting down: reconnect
  MESSAGE_TOO_BIG: 1009, // a client frame was too large
  QUEUE_OVERFLOW: 4008, // the client read too slowly: reconnect, resubscribe
});

/**
 * selectorFor is the seed's selector for one transaction: id = '<id>', with
 * a quote in the id doubled as selectors write it.
 */
export function selectorFor(id) {
  return `id = '${String(id).replaceAll("'", "''")}'`;
}

/**
 * tokenExpiry is when a subscription token expires (a Date), or undefined
 * when the token's format does not say. Tokens are
 * "v1.<expiry unix seconds>.<base64url id>.<mac>" or
 * "v2.<key id>.<expiry unix seconds>.<base64url id>.<mac>"; a client never
 * needs to parse one except to refresh it in time.
 */
export function tokenExpiry(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  const exp = { v1: parts.length === 4 && parts[1], v2: parts.length === 5 && parts[2] }[parts[0]];
  if (!exp || !/^\d+$/.test(exp)) return undefined;
  return new Date(Number(exp) * 1000);
}

// pinnedID is the id of a selector of the form id = '<id>', or undefined.
function pinnedID(selector) {
  const m = /^\s*id\s*=\s*'((?:[^']|'')*)'\s*$/.exec(selector ?? '');
  return m ? m[1].replaceAll("''", "'") : undefined;
}

const defaults = {
  backoffInitial: 500, // ms before the first reconnect
  backoffMax: 30_000, // ms, the longest wait between attempts
  pingInterval: 25_000, // ms between application pings; 0: none
  pongTimeout: 10_000, // ms without any frame after a ping before reconnecting
  refreshMargin: 60_000, // ms before a token's expiry at which it is refreshed
  dedupeSize: 1000, // event ids remembered per subscription
  catchUpTimeout: 30_000, // ms for reading a gap's events over HTTP
};

/**
 * Stripeline is one app's client: HTTP calls to the api and one websocket
 * to the notifier, shared by every subscription.
 */
export class Stripeline {
  /**
   * @param {object} options see index.d.ts, StripelineOptions
   */
  constructor(options = {}) {
    if (!options.apiBase) throw new TypeError('stripeline: apiBase is required');
    this.apiBase = String(options.apiBase).replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.notifierUrl = options.notifierUrl;
    this.options = { ...defaults, ...options };
    // Without a refreshToken of the app's, tokens are renewed by the api
    // (POST /Stripe/subscription-tokens); null turns refreshing off.
    if (options.refreshToken === undefined) {
      this.options.refreshToken = (id, token) => this.renewToken(id, token);
    }
    // A Stripe.js instance (Stripe(publishableKey)): it finishes the
    // PaymentIntents that answer requires_action (3-D Secure).
    this.stripe = options.stripe ?? null;
    if (this.stripe && typeof this.stripe.handleNextAction !== 'function') {
      throw new TypeError('stripeline: options.stripe must be a Stripe.js instance, Stripe(publishableKey), with handleNextAction');
    }
    this._fetch = options.fetch ?? globalThis.fetch?.bind(globalThis);
    this._WebSocket = options.WebSocket ?? globalThis.WebSocket;
    this._random = options.random ?? Math.random;
    this._tokens = new Map(); // transaction id → subscription token (from charges made here)
    this._subs = new Set(); // live subscriptions
    this._socket = null; // the notifier connection, while there are subscriptions
  }

  // --- HTTP ----------------------------------------------------------------

  /** GET /Stripe/config: {publishable_key, currency, currencies}. */
  config(options = {}) {
    return this._request('GET', '/Stripe/config', undefined, options);
  }

  /**
   * POST /Stripe/charge with a card token (tok_…). Resolves with Stripe's
   * charge plus `subscribe` ({channel, selector, token}); rejects with a
   * StripelineError (a decline: status 402, code "card_declined",
   * decline_code, charge).
   */
  async charge(params, options = {}) {
    const out = await this._request('POST', '/Stripe/charge', params, options);
    this._remember(out);
    return out;
  }

  /**
   * POST /Stripe/payment-intents: Stripe's PaymentIntent (client_secret)
   * plus `subscribe`. With `payment_method` and `confirm: true` Stripe may
   * answer `requires_action` (3-D Secure): see handleNextAction.
   */
  async createPaymentIntent(params, options = {}) {
    const out = await this._request('POST', '/Stripe/payment-intents', params, options);
    this._remember(out);
    return this.handleNextAction(out);
  }

  /**
   * POST /Stripe/payment-intents/{id}/confirm with {payment_method,
   * return_url?} and the PaymentIntent's subscription token (one created
   * through this client is remembered: pass undefined). Handles
   * `requires_action` as createPaymentIntent does.
   */
  async confirmPaymentIntent(id, params, token, options = {}) {
    const tok = token ?? this._tokens.get(String(id));
    const headers = { ...(options.headers ?? {}), ...(tok ? { 'X-Subscription-Token': tok } : {}) };
    const path = `/Stripe/payment-intents/${encodeURIComponent(id)}/confirm`;
    const out = await this._request('POST', path, params, { ...options, headers });
    this._remember(out);
    return this.handleNextAction(out);
  }

  /**
   * handleNextAction finishes a PaymentIntent answer whose status is
   * `requires_action`: with a Stripe.js instance (options.stripe, or the
   * argument) it calls stripe.handleNextAction({clientSecret}) and resolves
   * with the answer updated from Stripe.js's PaymentIntent (`status`,
   * `next_action`) and Stripe.js's result as `nextActionResult`; it rejects
   * with a StripelineError (Stripe.js's type, code, decline_code;
   * `paymentIntent`: the answer) when Stripe.js says the action failed.
   * Without Stripe.js it resolves with the answer and `actionRequired: true`:
   * the app must finish the action itself. Any other answer is returned as
   * it is.
   */
  async handleNextAction(answer, stripe = this.stripe) {
    if (answer?.status !== 'requires_action' || !answer.next_action) return answer;
    const { actionRequired, ...pi } = answer;
    if (!stripe) return { ...pi, actionRequired: true };
    const result = await stripe.handleNextAction({ clientSecret: pi.client_secret });
    if (result?.error) {
      const e = result.error;
      const failed = e.payment_intent;
      throw new StripelineError(e.message ?? 'stripeline: Stripe.js could not finish the payment', {
        type: e.type ?? 'stripejs_error',
        code: e.code,
        decline_code: e.decline_code,
        body: e,
        paymentIntent: {
          ...pi,
          ...(failed ? { status: failed.status, next_action: failed.next_action ?? null } : {}),
          nextActionResult: result,
        },
      });
    }
    const done = result?.paymentIntent;
    return {
      ...pi,
      ...(done ? { status: done.status, next_action: done.next_action ?? null } : {}),
      nextActionResult: result,
    };
  }

  /**
   * GET /Stripe/events?id=…: the stored events of one transaction, oldest
   * first, one page ({data, has_more, next_cursor}).
   */
  events(id, token, query = {}, options = {}) {
    const q = new URLSearchParams({ id });
    for (const [k, v] of Object.entries(query)) if (v !== undefined) q.set(k, String(v));
    const headers = token ? { 'X-Subscription-Token': token } : {};
    return this._request('GET', '/Stripe/events?' + q, undefined, { ...options, headers });
  }

  /**
   * GET /Stripe/transactions/{id}: where the transaction stands (`status`,
   * `state`) and its timeline, from the stored events.
   */
  transaction(id, token, options = {}) {
    const headers = token ? { 'X-Subscription-Token': token } : {};
    return this._request('GET', `/Stripe/transactions/${encodeURIComponent(id)}`, undefined, { ...options, headers });
  }

  /**
   * POST /Stripe/subscription-tokens: a newer token for id, given its
   * still-valid one (an expired token cannot be renewed).
   */
  async renewToken(id, token, options = {}) {
    const out = await this._request('POST', '/Stripe/subscription-tokens', { id, token }, options);
    this._remember({ ...out, id });
    return out.subscribe?.token ?? out.token;
  }

  _remember(out) {
    const s = out?.subscribe;
    const id = pinnedID(s?.selector) ?? out?.id;
    if (id && s?.token) this._tokens.set(id, s.token);
  }

  async _request(method, path, body, options) {
    if (!this._fetch) throw new TypeError('stripeline: no fetch; pass options.fetch');
    const headers = { Accept: 'application/json', ...(options.headers ?? {}) };
    if (this.apiKey) headers['X-API-Key'] = this.apiKey;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (options.idempotencyKey) headers['Idempotency-Key'] = options.idempotencyKey;
    let res;
    try {
      res = await this._fetch(this.apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: options.signal,
      });
    } catch (err) {
      if (err?.name === 'AbortError') throw err;
      throw new StripelineError(`stripeline: ${method} ${path}: ${err?.message ?? err}`, { type: 'network' });
    }
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.ok && json !== undefined) return json;
    const e = json?.error ?? {};
    const retry = Number(res.headers.get('Retry-After'));
    throw new StripelineError(e.message ?? `stripeline: ${method} ${path}: HTTP ${res.status}`, {
      status: res.status,
      type: e.type ?? (res.ok ? 'bad_answer' : 'api_error'),
      code: e.code,
      decline_code: e.decline_code,
      field: e.field,
      charge: e.charge,
      retryAfter: Number.isFinite(retry) && res.headers.has('Retry-After') ? retry : undefined,
      body: json,
    });
  }

  // --- websocket -------------------------------------------------------------

  /**
   * subscribe listens to one transaction's events: onEvent(event, frame) for
   * each, once per event id, across reconnects. token is the `subscribe.token`
   * of the charge or PaymentIntent answer (charges made through this client
   * are remembered: pass undefined). A reconnect resubscribes from the
   * subscription's position; when the notifier no longer has every event
   * after it, the missed ones are read over HTTP and options.onGap is told.
   */
  subscribe(id, token, onEvent, options = {}) {
    return this._add({
      channel: 'stripe',
      selector: selectorFor(id),
      id: String(id),
      token: token ?? this._tokens.get(String(id)),
      onEvent,
      ...options,
    });
  }

  /**
   * channel is the seed's call shape (Backendless.Messaging.subscribe):
   * client.channel('stripe').addMessageListener("id = 'ch_…'", onEvent).
   */
  channel(name) {
    return {
      name,
      addMessageListener: (selector, onEvent, options = {}) => {
        const id = pinnedID(selector);
        return this._add({
          channel: name,
          selector,
          id,
          token: options.token ?? (id !== undefined ? this._tokens.get(id) : undefined),
          onEvent,
          ...options,
        });
      },
    };
  }

  /** close ends every subscription and the connection. */
  close() {
    for (const s of [...this._subs]) s.close();
  }

  _add(spec) {
    if (!this.notifierUrl) throw new TypeError('stripeline: notifierUrl is required to subscribe');
    if (typeof spec.onEvent !== 'function') throw new TypeError('stripeline: onEvent must be a function');
    const sub = new Subscription(this, spec);
    this._subs.add(sub);
    sub._scheduleRefresh();
    if (!this._socket) this._socket = new Connection(this);
    this._socket.add(sub);
    return sub;
  }

  _remove(sub) {
    this._subs.delete(sub);
    this._socket?.remove(sub);
    if (this._subs.size === 0 && this._socket) {
      this._socket.close();
      this._socket = null;
    }
  }
}

/**
 * Subscription is one subscribe, kept across reconnects. `ready` resolves
 * when the notifier first accepts it and rejects when it refuses it for good.
 */
export class Subscription {
  constructor(client, spec) {
    this._client = client;
    this.channel = spec.channel;
    this.selector = spec.selector;
    this.id = spec.id; // the pinned transaction id, when there is one
    this.token = spec.token;
    this._onEvent = spec.onEvent;
    this._onError = spec.onError;
    this._onState = spec.onStateChange;
    this._onGap = spec.onGap;
    this._catchUp = spec.catchUp ?? true;
    // The position of the last frame read (Kafka offsets, one per
    // partition): a resubscribe sends it back and gets exactly what came
    // after it. Undefined until the notifier gives one (or the app does).
    this.position = Array.isArray(spec.position) ? [...spec.position] : undefined;
    this.recovered = undefined; // the last resume's answer: true, false, or undefined before one
    this.duplicates = 0; // message frames dropped because their event id had been delivered
    this._seen = new Set(); // event ids delivered, oldest first (Sets keep insertion order)
    this._held = null; // while a gap is read over HTTP: the frames that came meanwhile
    this._serverId = null; // "s1", … on the current connection
    this._refreshTimer = null;
    this._refreshedAfterRefusal = false;
    this.closed = false;
    this.ready = new Promise((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    this.ready.catch(() => {}); // a refusal is also reported to onError
  }

  /** close unsubscribes; no event is delivered after it returns. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this._refreshTimer);
    this._client._remove(this);
  }

  /**
   * refresh gets a newer token now (options.refreshToken) and hands it to
   * the live subscription. It resolves true when the token changed.
   */
  refresh() {
    return this._refresh();
  }

  _frame() {
    const f = { type: 'subscribe', channel: this.channel };
    if (this.selector !== undefined) f.selector = this.selector;
    if (this.token) f.token = this.token;
    if (this.position) f.position = this.position;
    return f;
  }

  // _subscribed takes the subscribed frame's position and, after a resume,
  // its answer: recovered false means events after our position had left
  // the notifier's window.
  _subscribed(f) {
    if (Array.isArray(f.position)) this.position = f.position;
    if (typeof f.recovered === 'boolean') {
      this.recovered = f.recovered;
      if (!f.recovered) this._gap();
    }
  }

  // _receive takes a message frame: its position first (it is the position
  // of the last frame read, whatever becomes of the event), then the event.
  _receive(frame) {
    if (this.closed) return;
    if (Array.isArray(frame.position)) this.position = frame.position;
    if (this._held) {
      this._held.push(frame);
      return;
    }
    this._deliver(frame.data, frame, true);
  }

  // _deliver hands ev to the app unless its id was delivered before: the
  // safety net under the position, for a notifier that replays its whole
  // window (one without positions, or a subscribe that had none) and for
  // events read over HTTP after a gap. It returns whether it delivered.
  _deliver(ev, frame, live) {
    if (this.closed) return false;
    const key = ev && typeof ev === 'object' ? ev.id : undefined;
    if (key !== undefined) {
      if (this._seen.has(key)) {
        if (live) this.duplicates++;
        return false;
      }
      this._seen.add(key);
      if (this._seen.size > this._client.options.dedupeSize) {
        this._seen.delete(this._seen.values().next().value);
      }
    }
    try {
      this._onEvent(ev, frame);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
    return true;
  }

  // _gap reads, over HTTP (GET /Stripe/events), the events a resume could
  // not replay, delivers the ones not yet delivered, oldest first, then what
  // the websocket brought meanwhile, and tells onGap. Only a subscription
  // that pins one id (id = '…') can be read so; for others onGap is told
  // with caughtUp false.
  async _gap() {
    if (this._held) {
      this._gapAgain = true; // another resume lost events while reading
      return;
    }
    this._held = [];
    const gap = { recovered: false, position: this.position, caughtUp: false, delivered: 0 };
    do {
      this._gapAgain = false;
      if (!this._catchUp || this.id === undefined) break;
      try {
        gap.delivered += await this._readEvents();
        gap.caughtUp = true;
        delete gap.error;
      } catch (err) {
        gap.caughtUp = false;
        gap.error = err instanceof StripelineError ? err : new StripelineError(String(err?.message ?? err), { type: 'network' });
      }
    } while (this._gapAgain && !this.closed);
    const held = this._held;
    this._held = null;
    if (this.closed) return;
    try {
      this._onGap?.(gap);
    } catch (err) {
      queueMicrotask(() => {
        throw err;
      });
    }
    // Their overlap with what HTTP gave is expected: not counted as duplicates.
    for (const f of held) this._deliver(f.data, f, false);
  }

  // _readEvents pages through GET /Stripe/events?id=… and delivers each
  // stored event not yet delivered; it returns how many it delivered.
  async _readEvents() {
    const client = this._client;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), client.options.catchUpTimeout);
    timer.unref?.();
    let delivered = 0;
    try {
      let cursor;
      for (;;) {
        const page = await client.events(this.id, this.token, { limit: 100, cursor }, { signal: ctl.signal });
        for (const row of page.data ?? []) {
          const ev = row.payload;
          if (ev && typeof ev === 'object' && this._deliver(ev, catchUpFrame(this, row), false)) delivered++;
        }
        if (!page.has_more || !page.next_cursor || this.closed) return delivered;
        cursor = page.next_cursor;
      }
    } catch (err) {
      if (err?.name === 'AbortError') {
        throw new StripelineError(`stripeline: reading the events of ${this.id} took over ${client.options.catchUpTimeout} ms`, { type: 'network' });
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  _error(err) {
    if (this._onError) this._onError(err);
  }

  // _refuse ends the subscription on a refusal that resubscribing cannot fix.
  _refuse(err) {
    this._reject(err);
    this._error(err);
    this.close();
  }

  // _refresh asks options.refreshToken for a newer token. It resolves true
  // when the token changed.
  async _refresh() {
    const refresh = this._client.options.refreshToken;
    if (!refresh || this.id === undefined || this.closed) return false;
    try {
      const next = await refresh(this.id, this.token);
      if (!next || next === this.token) return false;
      this.token = next;
      this._client._tokens.set(this.id, next);
      this._scheduleRefresh();
      // A live subscription lasts until its token expires: tell the notifier
      // (a refresh frame); otherwise the next subscribe brings it.
      this._client._socket?.sendRefresh(this);
      return true;
    } catch (err) {
      this._error(err instanceof StripelineError ? err : new StripelineError(String(err?.message ?? err), { type: 'refresh_failed' }));
      return false;
    }
  }

  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    const exp = tokenExpiry(this.token);
    if (!exp || !this._client.options.refreshToken || this.closed) return;
    const wait = Math.max(0, exp.getTime() - Date.now() - this._client.options.refreshMargin);
    // setTimeout's limit is 2^31-1 ms; a longer wait is re-armed.
    this._refreshTimer = setTimeout(() => {
      if (wait > 2 ** 31 - 1) this._scheduleRefresh();
      else this._refresh();
    }, Math.min(wait, 2 ** 31 - 1));
    this._refreshTimer.unref?.();
  }
}

// catchUpFrame is what onEvent gets beside an event read over HTTP after a
// gap: a message frame's shape, its headers from the stored row, no
// position, and catchUp: true.
function catchUpFrame(sub, row) {
  const headers = { event_id: row.event_id ?? row.payload?.id, event_type: row.type ?? row.payload?.type };
  if (row.id !== undefined) headers.object_id = row.id;
  if (row.object_type !== undefined) headers.object_type = row.object_type;
  if (Array.isArray(row.related_ids) && row.related_ids.length) headers.related_ids = row.related_ids.join(',');
  if (row.livemode !== undefined) headers.livemode = String(row.livemode);
  if (row.received_at !== undefined) headers.received_at = row.received_at;
  return { type: 'message', subscription: sub._serverId, channel: sub.channel, headers, data: row.payload, catchUp: true };
}

// Connection is the one websocket to the notifier, reconnected with
// exponential backoff and full jitter until the last subscription closes.
class Connection {
  constructor(client) {
    this.client = client;
    this.subs = [];
    this.pending = []; // what each answer (subscribed, unsubscribed, error, pong) answers, in order
    this.byServerId = new Map();
    this.attempt = 0;
    this.closed = false;
    this.ws = null;
    this.timer = null;
    this.pingTimer = null;
    this.pongTimer = null;
    this.state = 'connecting';
    this.connect();
  }

  setState(state, detail) {
    this.state = state;
    for (const s of this.subs) s._onState?.(state, detail);
    this.client.options.onStateChange?.(state, detail);
  }

  connect() {
    if (this.closed) return;
    const WS = this.client._WebSocket;
    if (!WS) throw new TypeError('stripeline: no WebSocket; pass options.WebSocket');
    this.setState('connecting');
    let ws;
    try {
      ws = new WS(this.client.notifierUrl);
    } catch (err) {
      this.scheduleReconnect(err);
      return;
    }
    this.ws = ws;
    this.pending = [];
    this.byServerId.clear();
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.setState('open');
      for (const s of this.subs) this.sendSubscribe(s);
      this.startPing();
    };
    ws.onmessage = (m) => {
      if (this.ws !== ws) return;
      this.onFrame(m.data);
    };
    ws.onclose = (e) => this.lost(ws, e);
    // Browsers follow an error with a close; some implementations (Node's
    // undici, after a refused handshake) do not.
    ws.onerror = () => this.lost(ws, { code: 1006, reason: 'connection failed' });
  }

  // lost handles the end of ws, once, whichever event says so first.
  lost(ws, e) {
    if (this.ws !== ws) return;
    this.ws = null;
    this.stopPing();
    try {
      ws.close();
    } catch {
      // already closed
    }
    for (const s of this.subs) s._serverId = null;
    if (!this.closed) this.scheduleReconnect(e);
  }

  scheduleReconnect(cause) {
    if (this.closed) return;
    const o = this.client.options;
    const cap = Math.min(o.backoffMax, o.backoffInitial * 2 ** Math.min(this.attempt, 30));
    // Full jitter, but never below half: many clients dropped at once (an
    // instance restarting) spread out, and none hammers.
    const delay = cap / 2 + (cap / 2) * this.client._random();
    this.attempt++;
    this.setState('reconnecting', { delay, code: cause?.code, reason: cause?.reason });
    this.timer = setTimeout(() => this.connect(), delay);
  }

  sendSubscribeFrame(sub) {
    const frame = sub._frame();
    this.send(frame, { sub, token: frame.token });
  }

  sendRefresh(sub) {
    if (sub._serverId && this.subs.includes(sub)) {
      this.send({ type: 'refresh', subscription: sub._serverId, token: sub.token }, { refresh: sub });
    }
  }

  send(frame, answers) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    if (answers) this.pending.push(answers);
    return true;
  }

  sendSubscribe(sub) {
    const exp = tokenExpiry(sub.token);
    if (exp && exp.getTime() <= Date.now() && this.client.options.refreshToken) {
      // Expired while away: refresh first, then subscribe.
      sub._refresh().then(() => {
        if (!sub.closed && this.subs.includes(sub) && sub._serverId === null) this.sendSubscribeFrame(sub);
      });
      return;
    }
    this.sendSubscribeFrame(sub);
  }

  onFrame(data) {
    let f;
    try {
      f = JSON.parse(data);
    } catch {
      return;
    }
    this.sawFrame();
    switch (f.type) {
      case 'message': {
        const sub = this.byServerId.get(f.subscription);
        sub?._receive(f);
        return;
      }
      case 'subscribed': {
        const p = this.pending.shift();
        const sub = p?.sub;
        if (!sub) return;
        if (sub.closed || !this.subs.includes(sub)) {
          // Closed while its subscribe was in flight.
          this.send({ type: 'unsubscribe', subscription: f.subscription }, { unsubscribe: f.subscription });
          return;
        }
        sub._serverId = f.subscription;
        sub._refreshedAfterRefusal = false;
        this.byServerId.set(f.subscription, sub);
        this.attempt = 0; // a connection that subscribes is healthy
        sub._subscribed(f);
        sub._resolve(sub);
        // Refreshed while the subscribe was on its way: the notifier holds
        // the older token.
        if (p.token !== sub.token) this.sendRefresh(sub);
        return;
      }
      case 'unsubscribed':
      case 'refreshed':
      case 'pong':
        this.pending.shift();
        return;
      case 'error': {
        const err = new StripelineError(f.message ?? f.code, { type: 'notifier_error', code: f.code });
        if (f.code === 'token_expired') {
          // Not an answer: the notifier ended a subscription whose token
          // expired unrefreshed.
          this.expired(this.byServerId.get(f.subscription), f.subscription, err);
          return;
        }
        const p = this.pending.shift();
        if (p?.sub) this.refused(p.sub, err);
        else if (p?.refresh) p.refresh._error(err); // it keeps the token it had
        else this.client.options.onError?.(err);
        return;
      }
      default:
      // A frame type this client does not know (a newer notifier): ignored.
    }
  }

  expired(sub, serverId, err) {
    this.byServerId.delete(serverId);
    if (!sub || sub.closed) return;
    sub._serverId = null;
    // A token that expired cannot be renewed by the api, but an app's own
    // refreshToken may mint one: then subscribe again.
    sub._refresh().then((changed) => {
      if (changed && !sub.closed && this.subs.includes(sub)) this.sendSubscribeFrame(sub);
      else sub._refuse(err);
    });
  }

  refused(sub, err) {
    if (sub.closed) return;
    if (err.code === 'unauthorized' && this.client.options.refreshToken && !sub._refreshedAfterRefusal) {
      sub._refreshedAfterRefusal = true;
      sub._refresh().then((changed) => {
        if (changed && !sub.closed && this.subs.includes(sub)) this.sendSubscribeFrame(sub);
        else sub._refuse(err);
      });
      return;
    }
    sub._refuse(err);
  }

  add(sub) {
    this.subs.push(sub);
    if (this.ws?.readyState === 1) this.sendSubscribe(sub);
  }

  remove(sub) {
    const i = this.subs.indexOf(sub);
    if (i >= 0) this.subs.splice(i, 1);
    if (sub._serverId) {
      this.byServerId.delete(sub._serverId);
      this.send({ type: 'unsubscribe', subscription: sub._serverId }, { unsubscribe: sub._serverId });
      sub._serverId = null;
    }
  }

  startPing() {
    const o = this.client.options;
    if (!o.pingInterval) return;
    const ws = this.ws;
    this.pingTimer = setInterval(() => {
      if (!this.send({ type: 'ping' }, { ping: true }) || this.pongTimer) return;
      this.pongTimer = setTimeout(() => {
        // Nothing at all came back: the connection is dead without a close.
        this.lost(ws, { code: 1006, reason: 'no answer to ping' });
      }, o.pongTimeout);
    }, o.pingInterval);
  }

  sawFrame() {
    clearTimeout(this.pongTimer);
    this.pongTimer = null;
  }

  stopPing() {
    clearInterval(this.pingTimer);
    clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
  }

  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopPing();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000);
    this.setState('closed');
  }
}
