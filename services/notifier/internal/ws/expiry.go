package ws

import (
	"container/heap"
	"sync"
)

// expiries are the subscriptions whose token ends, soonest first: one heap
// for the server, so a connection needs no timer of its own. Each entry is
// a subscription's sink, which knows its place in the heap (sink.at).
type expiries struct {
	mu sync.Mutex
	h  expiryHeap
}

// add schedules s for at (unix seconds), or moves it there.
func (e *expiries) add(s *sink, at int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s.scheduled = at
	if s.at >= 0 {
		heap.Fix(&e.h, s.at)
		return
	}
	heap.Push(&e.h, s)
}

// remove unschedules s; harmless when s is not scheduled.
func (e *expiries) remove(s *sink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if s.at >= 0 {
		heap.Remove(&e.h, s.at)
	}
}

// due unschedules and returns the sinks whose expiry is at or before now
// (unix seconds). A due sink's expiry is read again by its connection, under
// its lock: a refresh may have moved it since.
func (e *expiries) due(now int64) []*sink {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*sink
	for len(e.h) > 0 && e.h[0].scheduled <= now {
		out = append(out, heap.Pop(&e.h).(*sink))
	}
	return out
}

func (e *expiries) len() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.h)
}

// expiryHeap orders sinks by the expiry they were scheduled for.
type expiryHeap []*sink

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].scheduled < h[j].scheduled }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *expiryHeap) Push(x any) {
	s := x.(*sink)
	s.at = len(*h)
	*h = append(*h, s)
}
func (h *expiryHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	s.at = -1
	return s
}
