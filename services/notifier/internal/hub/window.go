package hub

import (
	"slices"
	"time"
)

// window is the recent events, in arrival order, and their event ids, for
// deduplication. Events leave it oldest first, when older than span or when
// the window holds more than maxBytes (Event.footprint: bodies, headers,
// ids and index slots, all of what it keeps). The per-id lists that replay
// reads are in the shards; the window keeps them in step.
type window struct {
	span     time.Duration
	maxBytes int64

	events    []*Event // arrival order; events[head:] are live
	head      int
	byEventID map[string]struct{}
	bytes     int64
}

func newWindow(span time.Duration, maxBytes int64) window {
	return window{span: span, maxBytes: maxBytes, byEventID: map[string]struct{}{}}
}

func (w *window) len() int { return len(w.events) - w.head }

// keeps reports whether the window keeps events at all.
func (w *window) keeps() bool { return w.span > 0 }

// add appends ev unless its event id is already there, evicting what no
// longer fits. The caller holds the window's lock; add takes the shard locks
// of what it evicts. The caller adds ev to the shards' lists.
func (w *window) add(ev *Event, now time.Time, h *Hub) bool {
	if _, dup := w.byEventID[ev.ID]; dup {
		return false
	}
	w.expire(now, h)
	if !w.keeps() {
		return true // no window: nothing kept, nothing deduplicated
	}
	w.events = append(w.events, ev)
	w.byEventID[ev.ID] = struct{}{}
	w.bytes += ev.size
	for w.maxBytes > 0 && w.bytes > w.maxBytes && w.len() > 1 {
		w.evictOldest(h)
	}
	return true
}

// expire drops the events older than the span.
func (w *window) expire(now time.Time, h *Hub) {
	cutoff := now.Add(-w.span)
	for w.len() > 0 && w.events[w.head].At.Before(cutoff) {
		w.evictOldest(h)
	}
}

func (w *window) evictOldest(h *Hub) {
	ev := w.events[w.head]
	w.events[w.head] = nil
	w.head++
	// Compact once the dead prefix outweighs the live part.
	if w.head > 1024 && w.head > len(w.events)/2 {
		w.events = slices.Clone(w.events[w.head:])
		w.head = 0
	}
	delete(w.byEventID, ev.ID)
	w.bytes -= ev.size
	// Before the shards forget it: a resume that reads held under a shard
	// lock either finds ev in the lists or knows it is gone.
	if ev.Offset >= 0 {
		h.held.raise(ev.Partition, ev.Offset)
	}
	for _, id := range ev.Fields.IDs {
		// ev is the oldest event of the window, so the first of each of its lists.
		sh := h.shardOf(id)
		sh.mu.Lock()
		sh.forget(id, ev)
		sh.mu.Unlock()
	}
}
