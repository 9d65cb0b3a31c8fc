package ws

import (
	"slices"
	"strconv"
	"time"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// subscriptionOverhead is what a subscription holds besides its selector and
// message prefix: the hub's Subscription and its slices, the sink, its slots
// in the hub's index, the connection's list and the expiry heap.
const subscriptionOverhead = 512

// sink is a subscription's end in a connection.
type sink struct {
	c      *conn
	sub    *hub.Subscription
	prefix []byte // the subscription's message frame up to the headers
	size   int64  // what the subscription holds, counted in c.held

	// expires is when the subscription's token ends (unix seconds; 0:
	// never, tokens are not required), under c.mu. scheduled and at are the
	// expiry heap's, under its lock: the expiry it is filed under, and its
	// index there (-1: not in the heap).
	expires   int64
	scheduled int64
	at        int

	resuming bool // the client sent a position: answer whether it recovered
}

// Subscribed implements hub.Sink: the subscribed frame, queued before the
// window's events.
func (s *sink) Subscribed(sub *hub.Subscription, pos hub.Position, recovered bool) {
	// Written by hand, not by encoding/json: this runs on the connection's
	// reader goroutine, deep inside the hub, and encoding/json's stack there
	// doubled every idle connection's stack, 4 KiB to 8 KiB, for good.
	// sub.ID is the server's own ("s1"), never in need of escaping.
	b := make([]byte, 0, 64+12*len(pos))
	b = append(b, `{"type":"subscribed","subscription":"`...)
	b = append(b, sub.ID...)
	b = append(b, '"')
	if len(pos) > 0 {
		b = append(b, `,"position":`...)
		b = pos.AppendJSON(b)
	}
	if s.resuming {
		recovered = recovered && pos != nil // one that pins no id is not replayed
		b = append(b, `,"recovered":`...)
		b = strconv.AppendBool(b, recovered)
	}
	s.c.send(frame{raw: append(b, '}')})
}

// Deliver implements hub.Sink: it only queues.
func (s *sink) Deliver(sub *hub.Subscription, ev *hub.Event, pos hub.Position) {
	s.c.send(frame{prefix: s.prefix, ev: ev, pos: pos, span: s.deliverySpan(sub, ev), queued: time.Now().UnixNano()})
}

func (c *conn) subscribe(f clientFrame) {
	cfg := &c.srv.cfg
	sel, ef := parseTarget(f)
	if ef != nil {
		c.sendErrorFrame(*ef)
		return
	}
	size := selector.SizeOf(sel)
	if size.Values > cfg.MaxSelectorValues || size.Nodes > cfg.MaxSelectorNodes {
		c.refuse(LimitSelectorSize, "selector_too_large", "selector has "+strconv.Itoa(size.Values)+" values and "+strconv.Itoa(size.Nodes)+
			" conditions; at most "+strconv.Itoa(cfg.MaxSelectorValues)+" values (NOTIFIER_MAX_SELECTOR_VALUES) and "+strconv.Itoa(cfg.MaxSelectorNodes)+" (NOTIFIER_MAX_SELECTOR_NODES)")
		return
	}
	if len(f.Position) > hub.MaxPartitions || slices.ContainsFunc(f.Position, func(o int64) bool { return o < -1 }) {
		c.sendError("bad_request", "position must be the position of the last frame read: at most "+strconv.Itoa(hub.MaxPartitions)+" offsets, each -1 or more")
		return
	}
	ids, pinned := selector.PinnedIDs(sel)
	var expires int64
	if cfg.RequireToken {
		// A token is bound to one transaction: it can only authorize a
		// selector every matching event of which carries that id.
		if !pinned {
			c.sendError("unauthorized", "a subscription token covers one transaction: the selector must pin id (id = '<transaction id>', possibly AND other conditions)")
			return
		}
		var ok bool
		if expires, ok = c.authorize(f.Token, ids); !ok {
			return
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.subs) >= cfg.MaxSubscriptions {
		c.refuse(LimitSubscriptions, "too_many_subscriptions", "at most "+strconv.Itoa(cfg.MaxSubscriptions)+" subscriptions per connection (NOTIFIER_MAX_SUBSCRIPTIONS)")
		return
	}
	if !pinned && c.unpinned >= cfg.MaxUnpinned {
		c.refuse(LimitSubscriptions, "too_many_subscriptions", "at most "+strconv.Itoa(cfg.MaxUnpinned)+" subscriptions per connection whose selector does not pin id (NOTIFIER_MAX_UNPINNED)")
		return
	}
	id := "s" + strconv.Itoa(c.nextID+1)
	channel := f.Channel
	if channel == Channel {
		channel = Channel // one string for every connection, not a copy each
	}
	sk := &sink{c: c, prefix: messagePrefix(id, channel), at: -1, expires: expires, resuming: f.Position != nil}
	sk.size = subscriptionOverhead + size.Bytes + int64(len(sk.prefix)+len(channel))
	if held := c.held.Load() + c.out.held() + sk.size; held > cfg.MaxConnectionBytes {
		c.refuse(LimitConnectionBytes, "too_many_bytes", "this subscription would make the connection hold "+strconv.FormatInt(held, 10)+
			" bytes of subscriptions, selectors and queued frames; at most "+strconv.FormatInt(cfg.MaxConnectionBytes, 10)+" (NOTIFIER_MAX_CONNECTION_BYTES)")
		return
	}
	s := hub.NewSubscription(id, channel, sel, sk)
	sk.sub = s
	if !c.acquireIDs(s) {
		c.refuse(LimitConnectionsPerID, "too_many_connections", "at most "+strconv.Itoa(cfg.MaxConnectionsPerID)+" connections may follow one transaction (NOTIFIER_MAX_CONNECTIONS_PER_ID)")
		return
	}
	c.nextID++
	c.subs = append(c.subs, s)
	if !pinned {
		c.unpinned++
	}
	c.held.Add(sk.size)
	if expires > 0 {
		c.srv.expiries.add(sk, expires)
	}
	// The hub queues the subscribed frame (sink.Subscribed), then replays
	// the window into the same queue.
	c.srv.hub.Subscribe(s, f.Position)
}

// authorize checks token for every id and returns when it expires (unix
// seconds); a refusal has been answered when ok is false.
func (c *conn) authorize(token string, ids []string) (expires int64, ok bool) {
	for _, id := range ids {
		exp, err := c.srv.cfg.TokenKeys.Verify(token, id, time.Now())
		if err != nil {
			c.sendError("unauthorized", err.Error()+" (id "+strconv.Quote(id)+")")
			return 0, false
		}
		expires = exp.Unix()
	}
	return expires, true
}

func (c *conn) unsubscribe(f clientFrame) {
	c.mu.Lock()
	i := c.index(f.Subscription)
	if i >= 0 {
		c.drop(i)
	}
	c.mu.Unlock()
	if i < 0 {
		c.sendError("unknown_subscription", "no subscription "+strconv.Quote(f.Subscription)+" on this connection")
		return
	}
	c.sendJSON(subscribedFrame{Type: "unsubscribed", Subscription: f.Subscription})
}

// refresh gives a subscription a newer token of its id: it then lasts until
// that token expires. A token that does not verify for the subscription's id
// is refused, and the subscription keeps the token it had.
func (c *conn) refresh(f clientFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := c.index(f.Subscription)
	if i < 0 {
		c.sendError("unknown_subscription", "no subscription "+strconv.Quote(f.Subscription)+" on this connection")
		return
	}
	sk := c.subs[i].Sink.(*sink)
	if !c.srv.cfg.RequireToken {
		c.sendJSON(refreshedFrame{Type: "refreshed", Subscription: f.Subscription})
		return
	}
	expires, ok := c.authorize(f.Token, sk.sub.PinnedIDs())
	if !ok {
		return
	}
	if expires > sk.expires {
		sk.expires = expires
		c.srv.expiries.add(sk, expires)
	}
	c.sendJSON(refreshedFrame{Type: "refreshed", Subscription: f.Subscription, ExpiresAt: time.Unix(sk.expires, 0).UTC().Format(time.RFC3339)})
}

// expire ends sk's subscription if its token has expired at now and was not
// refreshed meanwhile; the server's sweep calls it when sk falls due.
func (c *conn) expire(sk *sink, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := slices.Index(c.subs, sk.sub)
	switch {
	case i < 0: // already gone
	case sk.expires > now.Unix(): // refreshed since it was filed
		c.srv.expiries.add(sk, sk.expires)
	default:
		c.drop(i)
		c.sendErrorFrame(errorFrame{Type: "error", Code: "token_expired", Subscription: sk.sub.ID,
			Message: "the subscription's token expired at " + time.Unix(sk.expires, 0).UTC().Format(time.RFC3339) +
				": the subscription ended; refresh it with a newer token before it expires (POST /Stripe/subscription-tokens)"})
	}
}

// index is the position of subscription id in c.subs, or -1. Under c.mu.
func (c *conn) index(id string) int {
	return slices.IndexFunc(c.subs, func(s *hub.Subscription) bool { return s.ID == id })
}

// drop ends c.subs[i]: the hub, the expiry heap and the per-id counts forget
// it. Under c.mu.
func (c *conn) drop(i int) {
	s := c.subs[i]
	c.srv.hub.Unsubscribe(s)
	c.subs = slices.Delete(c.subs, i, i+1)
	sk := s.Sink.(*sink)
	c.srv.expiries.remove(sk)
	if !s.Pinned() {
		c.unpinned--
	}
	c.held.Add(-sk.size)
	for _, id := range s.PinnedIDs() {
		if !c.pins(id) {
			c.srv.perID.release(id)
		}
	}
}

// acquireIDs counts c as a holder of the ids s pins that no other
// subscription of c pins yet, unless one of them has its most connections.
// Under c.mu, before s joins c.subs.
func (c *conn) acquireIDs(s *hub.Subscription) bool {
	ids := s.PinnedIDs()
	for n, id := range ids {
		if c.pins(id) || c.srv.perID.acquire(id) {
			continue
		}
		for _, got := range ids[:n] {
			if !c.pins(got) {
				c.srv.perID.release(got)
			}
		}
		return false
	}
	return true
}

// pins reports whether a subscription of c pins id. Under c.mu.
func (c *conn) pins(id string) bool {
	return slices.ContainsFunc(c.subs, func(s *hub.Subscription) bool { return slices.Contains(s.PinnedIDs(), id) })
}
