// Package hub routes events to subscriptions. Subscriptions that pin
// transaction ids are found through an index from id to subscription, so an
// event costs the same whatever the number of subscribers for other ids; the
// few that do not pin an id are evaluated against every event. The hub also
// keeps the recent window, so a subscriber first gets the events it missed.
//
// The index and the window's per-id lists are split into shards by id, each
// with a lock of its own: delivering an event takes the locks of its ids'
// shards only, so it never waits for subscribes and unsubscribes on ids of
// other shards (shard.go).
package hub

import (
	"cmp"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
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
	// Partition and Offset are its place in the topic; Offset is -1 for an
	// event from elsewhere (tests), which has no position.
	Partition int32
	Offset    int64

	seq  uint64 // order of arrival in the hub
	size int64  // what the window counts for it (footprint)
}

// NewEvent builds an Event from a parsed envelope, its headers and raw body.
func NewEvent(env stripeevent.Envelope, headers map[string]string, raw []byte, at time.Time) *Event {
	hj, _ := json.Marshal(headers) // a map of strings always encodes
	ev := &Event{
		Envelope:    env,
		Headers:     headers,
		HeadersJSON: hj,
		Raw:         raw,
		At:          at,
		Offset:      -1,
		Fields: selector.Event{
			IDs:        env.IDs(),
			Type:       env.Type,
			EventID:    env.ID,
			ObjectType: env.ObjectType,
			Livemode:   env.Livemode,
		},
	}
	ev.size = ev.footprint()
	return ev
}

// eventOverhead is what an Event costs besides its strings: the struct, its
// headers map and slices, and its slots in the window's lists and maps.
const eventOverhead = 512

// footprint is what the window holds for ev: the body, the headers twice
// (the map and their JSON), the envelope's strings and, for every id, a
// key in the shard's per-id lists.
func (ev *Event) footprint() int64 {
	n := eventOverhead + len(ev.Raw) + len(ev.HeadersJSON) + len(ev.ID) + len(ev.Type) + len(ev.ObjectType)
	for k, v := range ev.Headers {
		n += len(k) + len(v) + 32
	}
	for _, id := range ev.Fields.IDs {
		n += 2*len(id) + 48
	}
	return int64(n)
}

// Sink receives the events of a subscription. The hub calls it with the
// locks of the subscription's shards held, which is what keeps replayed and
// live events in order without a gap: it must only queue, never block on a
// client.
type Sink interface {
	// Subscribed is called once, before any event: pos is where the
	// subscription starts (nil for one that pins no id: it gets live events
	// only), recovered whether the window still held every event after the
	// position it resumed from (true when it did not resume).
	Subscribed(sub *Subscription, pos Position, recovered bool)
	// Deliver hands over an event and the position the subscription has
	// reached with it (nil for one that pins no id).
	Deliver(sub *Subscription, ev *Event, pos Position)
}

// Subscription is one client subscription.
type Subscription struct {
	ID       string        // unique in its connection
	Channel  string        // as the client named it: "stripe" or "stripe/<id>"
	Selector selector.Expr // nil matches every event
	Sink     Sink

	pinned []string // the ids an event must carry, without repeats; nil: every event is evaluated
	shards []int    // the shards of pinned, ascending, without repeats
	// pos[i] is the subscription's index in its shard's list for pinned[i]
	// while it is subscribed (Unsubscribe in O(1)); nil when it is not.
	pos []int
	// floor is the position it resumed from, when that was ahead of this
	// instance on some partition: live events up to it were sent already.
	floor Position
}

// mark is the position s reaches with an event at pos: pos, never behind
// the position s resumed from.
func (s *Subscription) mark(pos Position) Position {
	if s.floor == nil || pos == nil {
		return pos
	}
	out := make(Position, max(len(pos), len(s.floor)))
	for i := range out {
		out[i] = max(pos.at(i), s.floor.at(i))
	}
	return out
}

// sent reports whether ev is at or before the position s resumed from.
func (s *Subscription) sent(ev *Event) bool {
	return s.floor != nil && ev.Offset >= 0 && ev.Offset <= s.floor.at(int(ev.Partition))
}

func (s *Subscription) match(ev *Event) bool {
	return s.Selector == nil || s.Selector.Match(&ev.Fields)
}

// Pinned reports whether s is found through the id index.
func (s *Subscription) Pinned() bool { return s.pinned != nil }

// PinnedIDs are the ids every event s can match carries; nil when s is
// evaluated against every event.
func (s *Subscription) PinnedIDs() []string { return s.pinned }

// NewSubscription builds a subscription, working out from its selector
// whether the id index can find it.
func NewSubscription(id, channel string, sel selector.Expr, sink Sink) *Subscription {
	s := &Subscription{ID: id, Channel: channel, Selector: sel, Sink: sink}
	if sel != nil {
		if ids, ok := selector.PinnedIDs(sel); ok {
			s.pinned = ids // selectors are immutable: no copy per subscription
			if hasRepeats(ids) {
				s.pinned = slices.Compact(slices.Sorted(slices.Values(ids)))
			}
			s.shards = shardsOf(s.pinned)
		}
	}
	return s
}

func hasRepeats(ids []string) bool {
	for i, id := range ids {
		if slices.Contains(ids[:i], id) {
			return true
		}
	}
	return false
}

// Config is the hub's settings.
type Config struct {
	Window         time.Duration // how far back a new subscriber's events are replayed
	WindowMaxBytes int64         // bound on what the window holds (Event.footprint)
}

// Hub holds every live subscription of this instance and the recent window.
//
// Locks, always taken in this order: winMu (publishers only), then the
// shards' locks in ascending order; unpinnedMu on its own.
type Hub struct {
	shards [shardCount]shard

	// unpinned are evaluated against every event. Publishing reads them
	// under the read lock, so publishers do not wait for each other there.
	unpinnedMu sync.RWMutex
	unpinned   map[*Subscription]struct{}
	pinned     atomic.Int64 // subscriptions in the index

	winMu sync.Mutex
	win   window
	seq   uint64
	now   func() time.Time

	// read is the offset of the last event handed to the hub, per
	// partition; held is the last offset before the window's first
	// complete one (what a resume needs to be exact, Begin and eviction).
	read, held offsets
}

// New returns an empty hub.
func New(cfg Config) *Hub {
	h := &Hub{
		unpinned: map[*Subscription]struct{}{},
		win:      newWindow(cfg.Window, cfg.WindowMaxBytes),
		now:      time.Now,
	}
	for i := range h.shards {
		h.shards[i].init()
	}
	return h
}

// Subscribe registers s and first hands it the window's events for its ids,
// in arrival order: every event reaches s once, either from the window or
// live. Subscriptions that do not pin an id get live events only.
//
// from is nil for a new subscription, which gets the whole window. A
// resuming one gives the position it reached (on any instance) and gets the
// events after it; it is told whether the window still held all of them.
func (h *Hub) Subscribe(s *Subscription, from Position) {
	if !s.Pinned() {
		h.unpinnedMu.Lock()
		defer h.unpinnedMu.Unlock()
		h.unpinned[s] = struct{}{}
		s.Sink.Subscribed(s, nil, true)
		return
	}
	h.lock(s.shards)
	defer h.unlock(s.shards)
	s.pos = make([]int, len(s.pinned))
	for i, id := range s.pinned {
		sh := h.shardOf(id)
		s.pos[i] = len(sh.byID[id])
		sh.byID[id] = append(sh.byID[id], s)
	}
	h.pinned.Add(1)
	h.replay(s, from)
}

// replay hands s its events from the window, each with the position s
// reaches with it, after the subscribed call; the caller holds the locks of
// s's shards. A partition's position moves past an event only once it has
// been handed over, and reaches this instance's read position once the last
// replayed event of that partition is.
func (h *Hub) replay(s *Subscription, from Position) {
	now := h.read.snapshot(len(from))
	base := from // what s has: resuming, what it says; new, what the window lacks
	recovered := true
	if from == nil {
		base = h.held.snapshot(len(now))
	} else {
		for i := range min(max(len(from), int(h.held.parts.Load())), MaxPartitions) {
			if from.at(i) < h.held.get(i) {
				recovered = false // events after from are gone
			}
			if from.at(i) > now.at(i) {
				s.floor = from // ahead of this instance: what comes up to from was sent
			}
		}
	}
	cutoff := h.now().Add(-h.win.span)
	var evs []*Event
	last := map[int32]int{} // the index in evs of each partition's last event
	for _, ev := range h.recent(s.pinned) {
		switch {
		case !s.match(ev):
		case from == nil && ev.At.Before(cutoff): // expired, not yet evicted
		case from != nil && ev.Offset >= 0 && ev.Offset <= from.at(int(ev.Partition)):
		default:
			if ev.Offset >= 0 {
				last[ev.Partition] = len(evs)
			}
			evs = append(evs, ev)
		}
	}
	cur := make(Position, max(len(now), len(base)))
	for i := range cur {
		cur[i] = base.at(i)
		if _, pending := last[int32(i)]; !pending {
			cur[i] = max(cur[i], now.at(i))
		}
	}
	s.Sink.Subscribed(s, slices.Clone(cur), recovered)
	for k, ev := range evs {
		var pos Position
		if ev.Offset >= 0 && int(ev.Partition) < len(cur) {
			cur[ev.Partition] = ev.Offset
			if last[ev.Partition] == k {
				cur[ev.Partition] = max(ev.Offset, now.at(int(ev.Partition)))
			}
			pos = slices.Clone(cur)
		}
		s.Sink.Deliver(s, ev, pos)
	}
}

// Begin records where the feed starts reading each partition: the
// window's first offset. A resume from before it cannot be exact.
func (h *Hub) Begin(start map[int32]int64) {
	for p, o := range start {
		h.held.raise(p, o-1)
		h.read.raise(p, o-1)
	}
}

// Unsubscribe removes s, in time independent of the number of subscriptions;
// once it returns, s gets nothing more. Unsubscribing twice is harmless.
func (h *Hub) Unsubscribe(s *Subscription) {
	if !s.Pinned() {
		h.unpinnedMu.Lock()
		delete(h.unpinned, s)
		h.unpinnedMu.Unlock()
		return
	}
	h.lock(s.shards)
	defer h.unlock(s.shards)
	if s.pos == nil {
		return
	}
	for i, id := range s.pinned {
		h.shardOf(id).remove(id, s, s.pos[i])
	}
	s.pos = nil
	h.pinned.Add(-1)
}

// recent returns the window's events carrying any of ids, once each, in
// arrival order. The caller holds the ids' shard locks.
func (h *Hub) recent(ids []string) []*Event {
	if len(ids) == 1 {
		return slices.Clone(h.shardOf(ids[0]).recent[ids[0]])
	}
	var out []*Event
	seen := map[*Event]struct{}{}
	for _, id := range ids {
		for _, ev := range h.shardOf(id).recent[id] {
			if _, dup := seen[ev]; !dup {
				seen[ev] = struct{}{}
				out = append(out, ev)
			}
		}
	}
	slices.SortFunc(out, func(a, b *Event) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// Publish adds ev to the window and hands it to every subscription it
// matches, once each even when several of the subscription's ids match. An
// event already in the window (Stripe redelivers) is not delivered again;
// Publish reports whether ev was new.
func (h *Hub) Publish(ev *Event) bool {
	ids := ev.Fields.IDs
	shards := shardsOf(ids)
	h.winMu.Lock()
	if !h.win.add(ev, h.now(), h) {
		h.winMu.Unlock()
		if ev.Offset >= 0 {
			h.read.raise(ev.Partition, ev.Offset)
		}
		return false
	}
	h.seq++
	ev.seq = h.seq
	// The shards are locked before the window lock is let go, so events
	// reach each shard in the order of seq.
	h.lock(shards)
	if h.win.keeps() {
		for _, id := range ids {
			sh := h.shardOf(id)
			sh.recent[id] = append(sh.recent[id], ev)
		}
	}
	h.winMu.Unlock()
	// The position every subscriber reaches with ev: this instance's read
	// position, and ev's own offset. The read position moves to ev only
	// after ev is handed to all its subscribers, so a position never covers
	// an event not yet queued.
	var pos Position
	if ev.Offset >= 0 && ev.Partition >= 0 && ev.Partition < MaxPartitions {
		pos = h.read.snapshot(int(ev.Partition) + 1)
		pos[ev.Partition] = ev.Offset
	}
	for i, id := range ids {
		for _, s := range h.shardOf(id).byID[id] {
			// Seen under an earlier id of this event: already handled.
			if i > 0 && pinsAny(s, ids[:i]) {
				continue
			}
			if s.match(ev) && !s.sent(ev) {
				s.Sink.Deliver(s, ev, s.mark(pos))
			}
		}
	}
	if ev.Offset >= 0 {
		h.read.raise(ev.Partition, ev.Offset)
	}
	h.unlock(shards)

	h.unpinnedMu.RLock()
	defer h.unpinnedMu.RUnlock()
	for s := range h.unpinned {
		if s.match(ev) {
			s.Sink.Deliver(s, ev, nil)
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
	WindowBytes      int64 // what the window holds, by Event.footprint
}

// Stats counts what the hub holds.
func (h *Hub) Stats() Stats {
	h.unpinnedMu.RLock()
	unpinned := len(h.unpinned)
	h.unpinnedMu.RUnlock()
	h.winMu.Lock()
	defer h.winMu.Unlock()
	return Stats{Pinned: int(h.pinned.Load()), Unpinned: unpinned, WindowEvents: h.win.len(), WindowBytes: h.win.bytes}
}
