package hub

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// blockingSink holds the hub's locks of its subscription's shards for as
// long as the test wants: Deliver signals entered and waits for release.
type blockingSink struct{ entered, release chan struct{} }

func (b *blockingSink) Subscribed(*Subscription, Position, bool) {}

func (b *blockingSink) Deliver(*Subscription, *Event, Position) {
	b.entered <- struct{}{}
	<-b.release
}

// TestPublishDoesNotWaitForOtherIDs: while a subscribe on one id is stuck
// inside the hub (its replay blocked in Deliver, its shard locked), events
// of ids in other shards are still delivered, and so are subscribes and
// unsubscribes on them.
func TestPublishDoesNotWaitForOtherIDs(t *testing.T) {
	h := New(Config{Window: time.Minute})
	h.Publish(event("evt_a", "charge.succeeded", "ch_a"))
	other := "ch_b"
	for i := 0; shardIndex(other) == shardIndex("ch_a"); i++ {
		other = fmt.Sprint("ch_b", i)
	}
	b := &blockingSink{entered: make(chan struct{}), release: make(chan struct{})}
	go h.Subscribe(sub(t, "stuck", "id = 'ch_a'", b), nil)
	<-b.entered
	defer close(b.release)

	done := make(chan []string)
	go func() {
		r := &recorder{}
		s := sub(t, "free", "id = '"+other+"'", r)
		h.Subscribe(s, nil)
		h.Publish(event("evt_b", "charge.succeeded", other))
		h.Unsubscribe(s)
		h.Publish(event("evt_c", "charge.succeeded", other))
		done <- r.take()
	}()
	select {
	case got := <-done:
		if want := []string{"free evt_b"}; !slices.Equal(got, want) {
			t.Fatalf("deliveries = %v, want %v", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("an event of another shard waited for a subscribe stuck on ch_a")
	}
}

// TestUnsubscribeInAnyOrder: subscriptions leave one id's list in any
// order (each moves the list's last one into its place), and those left
// keep getting the id's events.
func TestUnsubscribeInAnyOrder(t *testing.T) {
	h := New(Config{})
	r := &recorder{}
	var subs []*Subscription
	for i := range 50 {
		sel := "id = 'ch_1'"
		if i%3 == 0 {
			sel = "id IN ('pi_1', 'ch_1', 'in_1')" // several lists to keep in step
		}
		s := sub(t, fmt.Sprint(i), sel, r)
		subs = append(subs, s)
		h.Subscribe(s, nil)
	}
	rand.Shuffle(len(subs), func(i, j int) { subs[i], subs[j] = subs[j], subs[i] })
	for n, s := range subs {
		h.Unsubscribe(s)
		h.Unsubscribe(s) // twice: harmless
		h.Publish(event(fmt.Sprint("evt_", n), "charge.succeeded", "ch_1", "pi_1"))
		got := r.take()
		var want []string
		for _, left := range subs[n+1:] {
			want = append(want, left.ID+" evt_"+fmt.Sprint(n))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("after %d unsubscribes: deliveries %v, want %v", n+1, got, want)
		}
	}
	if st := h.Stats(); st.Pinned != 0 {
		t.Fatalf("stats = %+v, want none pinned", st)
	}
}

// TestWindowBytesCountEverything: the window's byte bound counts headers,
// ids and index slots, not only the bodies.
func TestWindowBytesCountEverything(t *testing.T) {
	h := New(Config{Window: time.Minute})
	ev := event("evt_1", "charge.succeeded", "ch_1", "pi_1", "cus_1")
	h.Publish(ev)
	st := h.Stats()
	if min := int64(len(ev.Raw) + len(ev.HeadersJSON) + eventOverhead); st.WindowBytes < min {
		t.Fatalf("window counts %d bytes for an event of %d body bytes, want at least %d", st.WindowBytes, len(ev.Raw), min)
	}
}
