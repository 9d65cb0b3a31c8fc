package hub

import (
	"cmp"
	"slices"
	"time"
)

// window is the recent events, in arrival order, indexed by every id they
// carry and by event id. Events leave it oldest first, when older than span
// or when the window holds more than maxBytes of raw bodies.
type window struct {
	span     time.Duration
	maxBytes int64

	events    []*Event // arrival order; events[head:] are live
	head      int
	byID      map[string][]*Event
	byEventID map[string]struct{}
	bytes     int64
}

func newWindow(span time.Duration, maxBytes int64) window {
	return window{span: span, maxBytes: maxBytes, byID: map[string][]*Event{}, byEventID: map[string]struct{}{}}
}

func (w *window) len() int { return len(w.events) - w.head }

// add appends ev unless its event id is already there.
func (w *window) add(ev *Event, now time.Time) bool {
	if _, dup := w.byEventID[ev.ID]; dup {
		return false
	}
	w.expire(now)
	if w.span <= 0 {
		return true // no window: nothing kept, nothing deduplicated
	}
	w.events = append(w.events, ev)
	w.byEventID[ev.ID] = struct{}{}
	for _, id := range ev.Fields.IDs {
		w.byID[id] = append(w.byID[id], ev)
	}
	w.bytes += int64(len(ev.Raw))
	for w.maxBytes > 0 && w.bytes > w.maxBytes {
		w.evictOldest()
	}
	return true
}

// expire drops the events older than the span.
func (w *window) expire(now time.Time) {
	cutoff := now.Add(-w.span)
	for w.len() > 0 && w.events[w.head].At.Before(cutoff) {
		w.evictOldest()
	}
}

func (w *window) evictOldest() {
	ev := w.events[w.head]
	w.events[w.head] = nil
	w.head++
	// Compact once the dead prefix outweighs the live part.
	if w.head > 1024 && w.head > len(w.events)/2 {
		w.events = slices.Clone(w.events[w.head:])
		w.head = 0
	}
	delete(w.byEventID, ev.ID)
	w.bytes -= int64(len(ev.Raw))
	for _, id := range ev.Fields.IDs {
		// ev is the oldest event of the window, so the first of each of its lists.
		list := w.byID[id]
		if len(list) > 0 && list[0] == ev {
			list[0] = nil
			list = list[1:]
		}
		if len(list) == 0 {
			delete(w.byID, id)
		} else {
			w.byID[id] = list
		}
	}
}

// lookup returns the events carrying any of ids, once each, in arrival order.
func (w *window) lookup(ids []string) []*Event {
	if len(ids) == 1 {
		return slices.Clone(w.byID[ids[0]])
	}
	var out []*Event
	seen := map[*Event]struct{}{}
	for _, id := range ids {
		for _, ev := range w.byID[id] {
			if _, dup := seen[ev]; !dup {
				seen[ev] = struct{}{}
				out = append(out, ev)
			}
		}
	}
	slices.SortFunc(out, func(a, b *Event) int { return cmp.Compare(a.seq, b.seq) })
	return out
}
