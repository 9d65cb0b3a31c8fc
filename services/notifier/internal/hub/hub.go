// Package hub routes events to subscriptions. Subscriptions that pin
// transaction ids are found through an index from id to subscription, so an
// event costs the same whatever the number of subscribers for other ids; the
// few that do not pin an id are evaluated against every event. The hub also
// keeps the recent window, so a subscriber first gets the events it missed.
package hub

import (
	"encoding/json"
	"slices"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Event is one Stripe event as the notifier delivers it.
type Event struct {
	stripeevent.Envelope
	Headers     map[string]string
	HeadersJSON json.RawMessage   // Headers, encoded once for every delivery
	Raw         json.RawMessage   // the body as Stripe sent it
	Fields      selector.Event    // what selectors look at
	At          time.Time         // when the broker took it: its place in the window
	Trace       trace.SpanContext // the trace it came with; invalid without one

	seq uint64 // order of arrival in the hub
}

// NewEvent builds an Event from a parsed envelope, its headers and raw body.
func NewEvent(env stripeevent.Envelope, headers map[string]string, raw []byte, at time.Time) *Event {
	hj, _ := json.Marshal(headers) // a map of strings always encodes
	return &Event{
		Envelope:    env,
		Headers:     headers,
		HeadersJSON: hj,
		Raw:         raw,
		At:          at,
		Fields: selector.Event{
			IDs:        env.IDs(),
			Type:       env.Type,
			EventID:    env.ID,
			ObjectType: env.ObjectType,
			Livemode:   env.Livemode,
		},
	}
}

// Sink receives the events of a subscription. The hub calls Deliver with its
// lock held, which is what keeps replayed and live events in order without
// a gap: Deliver must only queue, never block on a client.
type Sink interface {
	Deliver(sub *Subscription, ev *Event)
}

// Subscription is one client subscription.
type Subscription struct {
	ID       string        // unique in its connection
	Channel  string        // as the client named it: "stripe" or "stripe/<id>"
	Selector selector.Expr // nil matches every event
	Sink     Sink

	pinned []string // the ids an event must carry, from the selector; nil: every event is evaluated
}

func (s *Subscription) match(ev *Event) bool {
	return s.Selector == nil || s.Selector.Match(&ev.Fields)
}

// Pinned reports whether s is found through the id index.
func (s *Subscription) Pinned() bool { return s.pinned != nil }

// NewSubscription builds a subscription, working out from its selector
// whether the id index can find it.
func NewSubscription(id, channel string, sel selector.Expr, sink Sink) *Subscription {
	s := &Subscription{ID: id, Channel: channel, Selector: sel, Sink: sink}
	if sel != nil {
		if ids, ok := selector.PinnedIDs(sel); ok {
			s.pinned = ids // selectors are immutable: no copy per subscription
		}
	}
	return s
}

// Config is the hub's settings.
type Config struct {
	Window         time.Duration // how far back a new subscriber's events are replayed
	WindowMaxBytes int64         // bound on the raw bytes the window holds
}

// Hub holds every live subscription of this instance and the recent window.
type Hub struct {
	mu sync.Mutex
	// byID holds, for each pinned id, its subscriptions: usually one or two,
	// so a slice is both smaller and faster than a set.
	byID     map[string][]*Subscription
	unpinned map[*Subscription]struct{}
	pinned   int // subscriptions in byID
	win      window
	seq      uint64
	now      func() time.Time
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	return &Hub{
		byID:     map[string][]*Subscription{},
		unpinned: map[*Subscription]struct{}{},
		win:      newWindow(cfg.Window, cfg.WindowMaxBytes),
		now:      time.Now,
	}
}

// Subscribe registers s and first hands it the window's events for its ids,
// in arrival order: every event reaches s once, either from the window or
// live. Subscriptions that do not pin an id get live events only.
func (h *Hub) Subscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.Pinned() {
		h.unpinned[s] = struct{}{}
		return
	}
	h.pinned++
	for _, id := range s.pinned {
		h.byID[id] = append(h.byID[id], s)
	}
	h.win.expire(h.now())
	for _, ev := range h.win.lookup(s.pinned) {
		if s.match(ev) {
			s.Sink.Deliver(s, ev)
		}
	}
}

// Unsubscribe removes s; once it returns, s gets nothing more.
func (h *Hub) Unsubscribe(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.Pinned() {
		delete(h.unpinned, s)
		return
	}
	removed := false
	for _, id := range s.pinned {
		list := h.byID[id]
		i := slices.Index(list, s)
		if i < 0 {
			continue
		}
		removed = true
		list[i] = list[len(list)-1]
		list[len(list)-1] = nil
		if list = list[:len(list)-1]; len(list) == 0 {
			delete(h.byID, id)
		} else {
			h.byID[id] = list
		}
	}
	if removed {
		h.pinned--
	}
}

// Publish adds ev to the window and hands it to every subscription it
// matches, once each even when several of the subscription's ids match. An
// event already in the window (Stripe redelivers) is not delivered again;
// Publish reports whether ev was new.
func (h *Hub) Publish(ev *Event) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.win.add(ev, h.now()) {
		return false
	}
	h.seq++
	ev.seq = h.seq
	ids := ev.Fields.IDs
	for i, id := range ids {
		for _, s := range h.byID[id] {
			// Seen under an earlier id of this event: already handled.
			if i > 0 && pinsAny(s, ids[:i]) {
				continue
			}
			if s.match(ev) {
				s.Sink.Deliver(s, ev)
			}
		}
	}
	for s := range h.unpinned {
		if s.match(ev) {
			s.Sink.Deliver(s, ev)
		}
	}
	return true
}

// pinsAny reports whether s pinned one of ids. Both lists are short (an
// event carries a handful of ids), so this beats a set per event.
func pinsAny(s *Subscription, ids []string) bool {
	for _, id := range ids {
		if slices.Contains(s.pinned, id) {
			return true
		}
	}
	return false
}

// Stats is a snapshot for metrics and tests.
type Stats struct {
	Pinned, Unpinned int // subscriptions
	WindowEvents     int
	WindowBytes      int64
}

// Stats counts what the hub holds.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Pinned: h.pinned, Unpinned: len(h.unpinned), WindowEvents: h.win.len(), WindowBytes: h.win.bytes}
}
