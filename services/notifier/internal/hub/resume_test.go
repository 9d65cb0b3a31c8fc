package hub

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// frames records what a subscription is handed, as a client sees it.
type frames struct {
	mu        sync.Mutex
	start     Position
	recovered bool
	events    []*Event
	positions []Position
}

func (f *frames) Subscribed(_ *Subscription, pos Position, recovered bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.start, f.recovered = pos, recovered
}

func (f *frames) Deliver(_ *Subscription, ev *Event, pos Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, ev)
	f.positions = append(f.positions, pos)
}

// seen is what a client that stopped reading after n events has: those
// events and the position of the last frame it read.
func (f *frames) seen(n int) ([]*Event, Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n == 0 {
		return nil, f.start
	}
	return slices.Clone(f.events[:n]), f.positions[n-1]
}

// topic is a stream of events over partitions, as Kafka would give them:
// each partition's offsets in order. The charge's events are keyed by the
// charge, the PaymentIntent's by itself, so one subscription to the
// PaymentIntent spans partitions.
func topic(rng *rand.Rand, n, partitions int) []*Event {
	next := make([]int64, partitions)
	var out []*Event
	for i := range n {
		var env stripeevent.Envelope
		switch rng.IntN(3) {
		case 0:
			env = stripeevent.Envelope{ObjectID: "ch_1", RelatedIDs: []string{"pi_1"}, ObjectType: "charge"}
		case 1:
			env = stripeevent.Envelope{ObjectID: "pi_1", ObjectType: "payment_intent"}
		default:
			env = stripeevent.Envelope{ObjectID: fmt.Sprint("ch_other", i), ObjectType: "charge"}
		}
		env.ID, env.Type = fmt.Sprintf("evt_%04d", i), "charge.updated"
		ev := NewEvent(env, map[string]string{"event_id": env.ID}, []byte(`{}`), time.Now())
		// The object id picks the partition, as the producer's hash does.
		ev.Partition = int32(len(env.ObjectID) % partitions)
		if env.ObjectID == "pi_1" {
			ev.Partition = 1
		}
		ev.Offset = next[ev.Partition]
		next[ev.Partition]++
		out = append(out, ev)
	}
	return out
}

func ofPI(evs []*Event) []string {
	var out []string
	for _, ev := range evs {
		if slices.Contains(ev.Fields.IDs, "pi_1") {
			out = append(out, ev.ID)
		}
	}
	return out
}

func ids(evs []*Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

// TestResumeIsExact: a client subscribes on one instance, reads some of its
// frames, and resumes from the last position it read on another instance
// that reads the same topic, behind or ahead of the first: between the two
// it gets every event of its transaction exactly once, in topic order.
func TestResumeIsExact(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 1))
			evs := topic(rng, 200, 3)
			a, b := New(Config{Window: time.Hour}), New(Config{Window: time.Hour})
			subscribedAt, leftAt, bAt := rng.IntN(len(evs)), rng.IntN(len(evs)), rng.IntN(len(evs))
			if leftAt < subscribedAt {
				subscribedAt, leftAt = leftAt, subscribedAt
			}
			first := &frames{}
			for i, ev := range evs[:leftAt] {
				if i == subscribedAt {
					a.Subscribe(sub(t, "s", "id = 'pi_1'", first), nil)
				}
				a.Publish(ev)
			}
			if subscribedAt == leftAt {
				a.Subscribe(sub(t, "s", "id = 'pi_1'", first), nil)
			}
			got, pos := first.seen(rng.IntN(len(first.events) + 1))
			// The other instance has read the topic up to bAt: behind the
			// client's position, or ahead of it.
			for _, ev := range evs[:bAt] {
				b.Publish(ev)
			}
			second := &frames{}
			b.Subscribe(sub(t, "s", "id = 'pi_1'", second), pos)
			for _, ev := range evs[bAt:] {
				b.Publish(ev)
			}
			if !second.recovered {
				t.Fatal("resume within the window not recovered")
			}
			got = append(got, second.events...)
			if want := ofPI(evs); !slices.Equal(ids(got), want) {
				t.Fatalf("events across the resume (subscribed at %d, left at %d after %d frames, other instance at %d):\n got %v\nwant %v",
					subscribedAt, leftAt, len(got)-len(second.events), bAt, ids(got), want)
			}
			// And again, from the end: nothing more.
			_, last := second.seen(len(second.events))
			third := &frames{}
			b.Subscribe(sub(t, "t", "id = 'pi_1'", third), last)
			if len(third.events) != 0 || !third.recovered {
				t.Fatalf("resume from the last position got %v (recovered %v), want nothing", ids(third.events), third.recovered)
			}
		})
	}
}

// TestResumeAfterTheWindowIsNotRecovered: when events after the client's
// position have left the window, the resume says so.
func TestResumeAfterTheWindowIsNotRecovered(t *testing.T) {
	evs := topic(rand.New(rand.NewPCG(7, 7)), 100, 3)
	h := New(Config{Window: time.Hour})
	f := &frames{}
	h.Subscribe(sub(t, "s", "id = 'pi_1'", f), nil)
	for _, ev := range evs[:10] {
		h.Publish(ev)
	}
	_, pos := f.seen(len(f.events))
	small := New(Config{Window: time.Hour, WindowMaxBytes: 3 * evs[0].size})
	for _, ev := range evs {
		small.Publish(ev)
	}
	g := &frames{}
	small.Subscribe(sub(t, "s", "id = 'pi_1'", g), pos)
	if g.recovered {
		t.Fatalf("resume from %v recovered, with only the last events in the window", pos)
	}
	// A new instance that began reading at the window's start says the same
	// of a position older than that start.
	late := New(Config{Window: time.Hour})
	late.Begin(map[int32]int64{0: 40, 1: 40, 2: 40})
	for _, ev := range evs {
		if ev.Offset >= 40 {
			late.Publish(ev)
		}
	}
	g = &frames{}
	late.Subscribe(sub(t, "s", "id = 'pi_1'", g), pos)
	if g.recovered {
		t.Fatal("resume from before the window's start recovered")
	}
	g = &frames{}
	late.Subscribe(sub(t, "s", "id = 'pi_1'", g), Position{39, 39, 39})
	if !g.recovered || g.start[0] < 39 {
		t.Fatalf("resume from the window's start: recovered %v at %v", g.recovered, g.start)
	}
}
