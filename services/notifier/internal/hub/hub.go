// Package hub routes events to subscriptions: an index from transaction id
// to the subscriptions that pinned it, so an event costs the same whatever
// the number of subscribers for other ids.
package hub

import (
	"encoding/json"
	"sync"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Event is one Stripe event as the notifier delivers it.
type Event struct {
	stripeevent.Envelope
	Headers map[string]string
	Raw     json.RawMessage
}

// Sink receives the events of a subscription. Deliver must not block: a
// slow consumer is the sink's problem, never the hub's.
type Sink interface {
	Deliver(sub *Subscription, ev *Event)
}

// Subscription is one client subscription.
type Subscription struct {
	ID      string   // the subscription's id, unique in its connection
	Channel string   // as the client named it: "stripe" or "stripe/<id>"
	IDs     []string // the transaction ids it pinned
	Sink    Sink
}

// Hub holds every live subscription of this instance.
type Hub struct {
	mu   sync.RWMutex
	byID map[string]map[*Subscription]struct{}
}

// New returns an empty hub.
func New() *Hub {
	return &Hub{byID: map[string]map[*Subscription]struct{}{}}
}

// Add registers s.
func (h *Hub) Add(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range s.IDs {
		set := h.byID[id]
		if set == nil {
			set = map[*Subscription]struct{}{}
			h.byID[id] = set
		}
		set[s] = struct{}{}
	}
}

// Remove unregisters s.
func (h *Hub) Remove(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range s.IDs {
		if set := h.byID[id]; set != nil {
			delete(set, s)
			if len(set) == 0 {
				delete(h.byID, id)
			}
		}
	}
}

// Dispatch hands ev to every subscription whose ids it matches, once each
// even when several of its ids match.
func (h *Hub) Dispatch(ev *Event) {
	h.mu.RLock()
	var seen map[*Subscription]struct{}
	var targets []*Subscription
	for _, id := range ev.IDs() {
		for s := range h.byID[id] {
			if _, dup := seen[s]; dup {
				continue
			}
			if seen == nil {
				seen = map[*Subscription]struct{}{}
			}
			seen[s] = struct{}{}
			targets = append(targets, s)
		}
	}
	h.mu.RUnlock()
	for _, s := range targets {
		s.Sink.Deliver(s, ev)
	}
}

// Len is the number of indexed (id, subscription) pairs.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n := 0
	for _, set := range h.byID {
		n += len(set)
	}
	return n
}
