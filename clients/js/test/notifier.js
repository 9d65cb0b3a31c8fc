// A small stand-in for the notifier and the api, for the client's unit tests:
// a real HTTP server and a real RFC 6455 websocket server (no dependencies),
// speaking the protocol of docs/websocket.md. The Go tests check the client
// against the real services (e2e, the browser test); these check what is
// hard to make the real ones do on cue: closes, refusals, replays, gaps.
//
// Positions as the notifier's (docs/notifier.md, "Exact resume"): each
// published event gets the next offset of its partition; a message frame
// carries the read position with that event; a subscribe with a position
// replays the window's events after it and answers recovered, false when
// an event after it was evicted (server.evict). server.positions = false is
// a notifier before positions (no position anywhere, every subscribe
// replays the whole window); server.ignorePositions replays the whole
// window whatever the client sent, for the client's safety net.

import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { once } from 'node:events';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// encode is one unmasked server frame.
function encode(opcode, payload) {
  const len = payload.length;
  let head;
  if (len < 126) head = Buffer.from([0x80 | opcode, len]);
  else if (len < 65536) {
    head = Buffer.alloc(4);
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

// Peer is one websocket connection, server side.
class Peer {
  constructor(socket, server) {
    this.socket = socket;
    this.server = server;
    this.buf = Buffer.alloc(0);
    this.frames = []; // client frames received, parsed
    this.closed = false;
    this.nextSub = 0;
    this.subs = new Map(); // "s1" → subscribe frame
    this.sent = []; // frames sent, as objects
    socket.on('data', (d) => this.onData(d));
    socket.on('close', () => {
      this.closed = true;
      this.server.emit('peerClosed', this);
    });
    socket.on('error', () => {});
  }

  onData(d) {
    this.buf = Buffer.concat([this.buf, d]);
    for (;;) {
      if (this.buf.length < 2) return;
      const opcode = this.buf[0] & 0x0f;
      let len = this.buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      const masked = (this.buf[1] & 0x80) !== 0;
      const need = off + (masked ? 4 : 0) + len;
      if (this.buf.length < need) return;
      const mask = masked ? this.buf.subarray(off, off + 4) : null;
      const payload = Buffer.from(this.buf.subarray(off + (masked ? 4 : 0), need));
      if (mask) for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i % 4];
      this.buf = this.buf.subarray(need);
      if (opcode === 0x8) {
        if (!this.closed) this.socket.end(encode(0x8, payload.subarray(0, 2)));
        this.closed = true;
        return;
      }
      if (opcode === 0x9) {
        this.socket.write(encode(0xa, payload));
        continue;
      }
      if (opcode === 0x1) this.onText(payload.toString('utf8'));
    }
  }

  onText(text) {
    const f = JSON.parse(text);
    this.frames.push(f);
    this.server.emit('frame', f, this);
    if (this.server.handle(this, f) === false) return;
    switch (f.type) {
      case 'subscribe': {
        const refusal = this.server.refuse?.(f, this);
        if (refusal) {
          this.send({ type: 'error', code: refusal.code, message: refusal.message ?? refusal.code });
          return;
        }
        const id = 's' + ++this.nextSub;
        this.subs.set(id, f);
        this.subscribed(id, f);
        return;
      }
      case 'unsubscribe':
        if (!this.subs.delete(f.subscription)) {
          this.send({ type: 'error', code: 'unknown_subscription', message: 'no subscription' });
          return;
        }
        this.send({ type: 'unsubscribed', subscription: f.subscription });
        return;
      case 'refresh':
        if (!this.subs.has(f.subscription)) {
          this.send({ type: 'error', code: 'unknown_subscription', message: 'no subscription' });
          return;
        }
        if (this.server.refuseRefresh?.(f)) {
          this.send({ type: 'error', code: 'unauthorized', message: 'subscription token is for another transaction' });
          return;
        }
        this.send({ type: 'refreshed', subscription: f.subscription, expires_at: '2030-01-01T00:00:00Z' });
        return;
      case 'ping':
        if (!this.server.silent) this.send({ type: 'pong' });
        return;
      default:
        this.send({ type: 'error', code: 'bad_request', message: 'type must be subscribe, unsubscribe, refresh or ping' });
    }
  }

  // expire ends subscription id as the notifier does when its token expires.
  expire(id) {
    this.subs.delete(id);
    this.send({ type: 'error', code: 'token_expired', subscription: id, message: 'the subscription\'s token expired' });
  }

  // subscribed answers a subscribe and replays the window: all of it for
  // the subscription's id, or what came after the client's position.
  subscribed(id, f) {
    const srv = this.server;
    if (!srv.positions) {
      this.send({ type: 'subscribed', subscription: id });
      for (const e of srv.window) if (matches(f, e.ev)) this.message(id, f, e.ev);
      return;
    }
    const from = f.position && !srv.ignorePositions ? f.position : undefined;
    const after = (p) => (from ? (from[p] ?? -1) : -1);
    const replay = srv.window.filter((e) => matches(f, e.ev) && e.offset > after(e.partition));
    // A partition stays where the client was while replayed events of it
    // are to come, else it is at the read position (rule 4).
    const pos = srv.offsets.map((o, p) => {
      const pending = replay.some((e) => e.partition === p);
      if (!pending) return Math.max(o, after(p));
      return from ? after(p) : srv.evicted[p];
    });
    const answer = { type: 'subscribed', subscription: id, position: [...pos] };
    if (f.position) answer.recovered = srv.offsets.every((_, p) => srv.evicted[p] <= after(p));
    this.send(answer);
    replay.forEach((e, i) => {
      const last = !replay.slice(i + 1).some((r) => r.partition === e.partition);
      pos[e.partition] = last ? srv.offsets[e.partition] : e.offset;
      this.message(id, f, e.ev, [...pos]);
    });
  }

  message(id, f, ev, position) {
    const m = { type: 'message', subscription: id, channel: f.channel, headers: { event_id: ev.id, event_type: ev.type }, data: ev };
    if (position) m.position = position;
    this.send(m);
  }

  send(obj) {
    if (this.closed) return;
    this.sent.push(obj);
    this.socket.write(encode(0x1, Buffer.from(JSON.stringify(obj))));
  }

  close(code, reason = '') {
    const p = Buffer.alloc(2 + Buffer.byteLength(reason));
    p.writeUInt16BE(code, 0);
    p.write(reason, 2);
    this.socket.write(encode(0x8, p));
    this.closed = true;
    this.socket.end();
  }

  // drop cuts the TCP connection without a close frame.
  drop() {
    this.closed = true;
    this.socket.destroy();
  }
}

// matches: the fake's selector support, the one shape the client sends.
function matches(f, ev) {
  const id = f.channel.startsWith('stripe/') ? f.channel.slice(7) : /^id = '(.*)'$/.exec(f.selector ?? '')?.[1]?.replaceAll("''", "'");
  return id !== undefined && (ev.data?.object?.id === id || ev.related?.includes(id));
}

/**
 * startNotifier starts the stand-in on a free loopback port. HTTP requests
 * go to options.http(req, res, body) (the api's routes), /ws upgrades.
 */
export async function startNotifier(options = {}) {
  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks).toString('utf8');
    if (options.http) return options.http(req, res, body);
    res.writeHead(404).end();
  });
  server.peers = [];
  server.window = []; // {ev, partition, offset}, oldest first
  server.positions = options.positions ?? true;
  server.partitions = options.partitions ?? 3;
  server.offsets = Array(server.partitions).fill(-1); // the read position: last offset per partition
  server.evicted = Array(server.partitions).fill(-1); // the last offset no longer in the window
  server.handle = () => true;
  server.on('upgrade', (req, socket) => {
    if (server.rejectUpgrades) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + GUID).digest('base64');
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
    );
    const peer = new Peer(socket, server);
    server.peers.push(peer);
    server.emit('peer', peer);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  server.httpUrl = `http://127.0.0.1:${port}`;
  server.wsUrl = `ws://127.0.0.1:${port}/ws`;
  // publish puts an event in the window, on partition (default: by its
  // object id, as Kafka's key does), sends it to every matching
  // subscription, and returns the read position after it.
  server.publish = (ev, partition = hash(ev.data?.object?.id ?? '') % server.partitions) => {
    const offset = ++server.offsets[partition];
    server.window.push({ ev, partition, offset });
    for (const p of server.peers) {
      if (p.closed) continue;
      for (const [id, f] of p.subs) if (matches(f, ev)) p.message(id, f, ev, server.positions ? [...server.offsets] : undefined);
    }
    return [...server.offsets];
  };
  // evict drops the window's n oldest events, as NOTIFIER_WINDOW does.
  server.evict = (n) => {
    for (const e of server.window.splice(0, n)) server.evicted[e.partition] = e.offset;
  };
  server.stop = async () => {
    for (const p of server.peers) p.socket.destroy();
    server.close();
    await once(server, 'close');
  };
  return server;
}

function hash(s) {
  let h = 0;
  for (const c of s) h = (h * 31 + c.codePointAt(0)) >>> 0;
  return h;
}

/** until polls cond every few ms until it is true, failing after ms. */
export async function until(cond, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = cond();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** event is a Stripe-shaped event for object id. */
export function event(id, objectId, type = 'charge.succeeded') {
  return { id, object: 'event', type, created: 1700000000, data: { object: { id: objectId, object: type.split('.')[0] } } };
}
