package hub

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

type recorder struct {
	mu  sync.Mutex
	got []string // "<subscription> <event id>"
}

func (r *recorder) Subscribed(*Subscription, Position, bool) {}

func (r *recorder) Deliver(s *Subscription, ev *Event, _ Position) {
	r.mu.Lock()
	r.got = append(r.got, s.ID+" "+ev.ID)
	r.mu.Unlock()
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.got
	r.got = nil
	return g
}

func event(id, typ, object string, related ...string) *Event {
	return NewEvent(stripeevent.Envelope{ID: id, Type: typ, ObjectID: object, RelatedIDs: related, ObjectType: "charge"},
		map[string]string{"event_id": id}, []byte(`{"id":"`+id+`"}`), time.Now())
}

func sub(t *testing.T, id, sel string, sink Sink) *Subscription {
	t.Helper()
	e, err := selector.Parse(sel)
	if err != nil {
		t.Fatal(err)
	}
	return NewSubscription(id, "stripe", e, sink)
}

func TestPublishRoutesOnceBySelector(t *testing.T) {
	h := New(Config{Window: time.Minute})
	r := &recorder{}
	subs := []*Subscription{
		sub(t, "charge", "id = 'ch_1'", r),
		sub(t, "intent", "id = 'pi_1'", r),                               // a related id
		sub(t, "both", "id IN ('ch_1', 'pi_1')", r),                      // two ids match: once
		sub(t, "refunds", "id = 'ch_1' AND type = 'charge.refunded'", r), // pinned, filtered
		sub(t, "other", "id = 'ch_2'", r),                                // another transaction
		sub(t, "all-succeeded", "type = 'charge.succeeded'", r),          // not pinned
		sub(t, "not-this", "id <> 'ch_1'", r),                            // not pinned
		sub(t, "either", "id = 'ch_1' OR type = 'charge.succeeded'", r),  // not pinned, once
	}
	for _, s := range subs {
		h.Subscribe(s, nil)
	}
	if st := h.Stats(); st.Pinned != 5 || st.Unpinned != 3 {
		t.Fatalf("stats = %+v, want 5 pinned, 3 unpinned", st)
	}
	h.Publish(event("evt_1", "charge.succeeded", "ch_1", "pi_1", "cus_1"))
	got := r.take()
	slices.Sort(got)
	want := []string{"all-succeeded evt_1", "both evt_1", "charge evt_1", "either evt_1", "intent evt_1"}
	if !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}

	for _, s := range subs {
		h.Unsubscribe(s)
	}
	h.Publish(event("evt_2", "charge.succeeded", "ch_1", "pi_1"))
	if got := r.take(); len(got) != 0 {
		t.Fatalf("after unsubscribe got %v", got)
	}
	if st := h.Stats(); st.Pinned != 0 || st.Unpinned != 0 {
		t.Fatalf("stats after unsubscribe = %+v", st)
	}
}

func TestSubscribeReplaysWindowThenLive(t *testing.T) {
	h := New(Config{Window: time.Minute})
	h.Publish(event("evt_1", "charge.succeeded", "ch_1", "pi_1"))
	h.Publish(event("evt_x", "charge.succeeded", "ch_x"))
	h.Publish(event("evt_2", "charge.refunded", "ch_1", "pi_1"))
	r := &recorder{}
	h.Subscribe(sub(t, "a", "id IN ('pi_1', 'ch_1')", r), nil)
	h.Subscribe(sub(t, "b", "id = 'ch_1' AND type = 'charge.refunded'", r), nil)
	h.Subscribe(sub(t, "c", "type = 'charge.succeeded'", r), nil) // not pinned: live only
	h.Publish(event("evt_3", "charge.updated", "ch_1"))
	h.Publish(event("evt_1", "charge.succeeded", "ch_1", "pi_1")) // Stripe redelivers
	want := []string{"a evt_1", "a evt_2", "b evt_2", "a evt_3"}
	if got := r.take(); !slices.Equal(got, want) {
		t.Fatalf("deliveries = %v, want %v", got, want)
	}
}

func TestWindowExpiresByAgeAndBytes(t *testing.T) {
	h := New(Config{Window: 10 * time.Minute, WindowMaxBytes: 1000})
	now := time.Now()
	h.now = func() time.Time { return now }
	old := event("evt_old", "charge.succeeded", "ch_1")
	old.At = now.Add(-11 * time.Minute)
	h.Publish(old)
	h.Publish(event("evt_new", "charge.succeeded", "ch_1"))
	r := &recorder{}
	h.Subscribe(sub(t, "a", "id = 'ch_1'", r), nil)
	if got, want := r.take(), []string{"a evt_new"}; !slices.Equal(got, want) {
		t.Fatalf("replay = %v, want %v", got, want)
	}

	for i := range 100 {
		h.Publish(event(fmt.Sprintf("evt_%03d", i), "charge.succeeded", "ch_2"))
	}
	st := h.Stats()
	if st.WindowBytes > 1000 || st.WindowEvents == 0 {
		t.Fatalf("window = %+v, want at most 1000 bytes", st)
	}
	h.Subscribe(sub(t, "b", "id = 'ch_2'", r), nil)
	got := r.take()
	if len(got) != st.WindowEvents || got[len(got)-1] != "b evt_099" {
		t.Fatalf("replay after byte eviction = %v (window %+v), want the newest events", got, st)
	}
}

// TestNoGapNoDuplicate races subscribes against publishes: every
// subscriber gets each of its events exactly once, in order.
func TestNoGapNoDuplicate(t *testing.T) {
	h := New(Config{Window: time.Minute})
	const events = 2000
	var subs []*recorder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range events {
			h.Publish(event(fmt.Sprintf("evt_%05d", i), "charge.succeeded", "ch_1"))
		}
	}()
	for i := range 50 {
		r := &recorder{}
		subs = append(subs, r)
		h.Subscribe(sub(t, fmt.Sprint(i), "id = 'ch_1'", r), nil)
	}
	wg.Wait()
	for i, r := range subs {
		got := r.take()
		if len(got) != events {
			t.Fatalf("subscriber %d got %d events, want %d", i, len(got), events)
		}
		for j, g := range got {
			if want := fmt.Sprintf("%d evt_%05d", i, j); g != want {
				t.Fatalf("subscriber %d delivery %d = %q, want %q", i, j, g, want)
			}
		}
	}
}

func BenchmarkPublishPinned(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := New(Config{Window: time.Minute, WindowMaxBytes: 1 << 20})
			r := &recorder{}
			for i := range n {
				e, _ := selector.Parse(fmt.Sprintf("id = 'ch_%d'", i))
				h.Subscribe(NewSubscription("s", "stripe", e, r), nil)
			}
			evs := make([]*Event, b.N)
			for i := range evs {
				evs[i] = event(fmt.Sprint("evt_", i), "charge.succeeded", "ch_other", "pi_other")
			}
			b.ResetTimer()
			for i := range b.N {
				h.Publish(evs[i])
			}
		})
	}
}
