package loadgen

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// IDs returns n ids with prefix: the transaction ids a run of subscribers
// pins, one per connection. Seeded(seed).IDs("ch_", n) is what
// `stripeline-load connections --seed seed --n n` subscribes to, so a
// sender elsewhere can aim at them.
func (g *Generator) IDs(prefix string, n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = g.ID(prefix)
	}
	return ids
}

// SpreadConfig sends charge webhooks, each for a random id of Targets: the
// ids held by one or more groups of subscribers (a group is a process, or
// the subscribers of an in-process run).
type SpreadConfig struct {
	Load
	URL     string // …/webhooks/stripe
	Secret  string
	Targets [][]string // ids by group
	Seed    uint64     // of the events
}

// Sent is one accepted webhook: its event, the group whose subscriber pinned
// its charge, and when its POST was about to go (wall clock, Unix ns: the
// subscribers may be other processes on the same machine).
type Sent struct {
	EventID string `json:"e"`
	Group   int    `json:"g"`
	At      int64  `json:"t"`
}

// SpreadResult is the POSTs' result and every accepted one.
type SpreadResult struct {
	Send Result `json:"send"`
	Sent []Sent `json:"sent"`
}

// SendSpread sends charge.succeeded webhooks under cfg's load, each for an
// id drawn uniformly from all of cfg.Targets.
func SendSpread(ctx context.Context, cfg SpreadConfig) (SpreadResult, error) {
	type target struct {
		id    string
		group int
	}
	var all []target
	for g, ids := range cfg.Targets {
		for _, id := range ids {
			all = append(all, target{id, g})
		}
	}
	gen := Seeded(cfg.Seed)
	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	make1 := func() (Event, int) {
		t := all[rng.IntN(len(all))]
		return gen.Charge("charge.succeeded", t.id), t.group
	}
	// The events a paced run will send are made before the clock starts:
	// encoding one costs the sender more CPU than the service spends on it.
	type made struct {
		ev    Event
		group int
	}
	var ready []made
	if n := premade(cfg.Load); n > 0 {
		ready = make([]made, n)
		for i := range ready {
			ready[i].ev, ready[i].group = make1()
		}
	}
	var (
		mu     sync.Mutex
		next   int                 // of ready
		tried  = map[string]Sent{} // event id → its target and time, until answered
		result SpreadResult
	)
	send, err := SendWebhooks(ctx, WebhookConfig{
		URL: cfg.URL, Secret: cfg.Secret, Load: cfg.Load,
		Next: func() Event {
			mu.Lock()
			defer mu.Unlock()
			var m made
			if next < len(ready) {
				m, ready[next] = ready[next], made{}
				next++
			} else {
				m.ev, m.group = make1()
			}
			tried[m.ev.ID] = Sent{EventID: m.ev.ID, Group: m.group, At: time.Now().UnixNano()}
			return m.ev
		},
		OnSent: func(ev Event, status int) {
			mu.Lock()
			defer mu.Unlock()
			if status/100 == 2 {
				result.Sent = append(result.Sent, tried[ev.ID])
			}
			delete(tried, ev.ID)
		},
	})
	if err != nil {
		return SpreadResult{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	result.Send = send
	return result, nil
}

// premade is how many events a run under load sends, when it is paced or
// counted (with a little over for the schedule's last slots), and at most
// maxPremade of them; 0 when flat out for a duration.
func premade(l Load) int {
	n := 0
	if l.Rate > 0 && l.Duration > 0 {
		n = int(l.Rate*l.Duration.Seconds()) + int(l.Rate/100) + 16
	}
	if l.Count > 0 && (n == 0 || l.Count < n) {
		n = l.Count
	}
	return min(n, maxPremade)
}

// maxPremade bounds the events held before a run (some 4 KB each).
const maxPremade = 200_000

// Receipts records the message frames a group of subscribers received: when
// each event first arrived, and how many arrived again. Safe for concurrent
// use (Record is called from every connection's reader).
type Receipts struct {
	mu  sync.Mutex
	at  map[string]int64
	dup int
}

// Record notes that eventID arrived at at.
func (r *Receipts) Record(eventID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil {
		r.at = map[string]int64{}
	}
	if _, ok := r.at[eventID]; ok {
		r.dup++
		return
	}
	r.at[eventID] = at.UnixNano()
}

// Len is the number of distinct events received.
func (r *Receipts) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.at)
}

// Report is a copy of what was received so far.
func (r *Receipts) Report() ReceiptReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	rep := ReceiptReport{Received: make(map[string]int64, len(r.at)), Duplicates: r.dup}
	for id, t := range r.at {
		rep.Received[id] = t
	}
	return rep
}

// ReceiptReport is what one group of subscribers received.
type ReceiptReport struct {
	Received   map[string]int64 `json:"received"` // event id → first receipt, Unix ns
	Duplicates int              `json:"duplicates"`
}

// Tally is deliveries matched against what was sent; tallies merge, so one
// per group adds up to one per instance and one overall.
type Tally struct {
	Expected   int // accepted webhooks for the group's ids
	Delivered  int // of them, received by the group
	Duplicates int // frames of an event the group had already received
	Strays     int // events received that were not accepted for the group
	latencies  []time.Duration
}

// Match tallies each group's receipts (groups[i] is group i's) against the
// accepted webhooks: an event is delivered when the group its charge belongs
// to received it, its latency from the POST to the frame.
func Match(sent []Sent, groups []ReceiptReport) []Tally {
	t := make([]Tally, len(groups))
	matched := make([]int, len(groups))
	for _, s := range sent {
		if s.Group < 0 || s.Group >= len(groups) {
			continue
		}
		g := &t[s.Group]
		g.Expected++
		if at, ok := groups[s.Group].Received[s.EventID]; ok {
			g.Delivered++
			matched[s.Group]++
			g.latencies = append(g.latencies, time.Duration(at-s.At))
		}
	}
	for i, rep := range groups {
		t[i].Duplicates = rep.Duplicates
		t[i].Strays = len(rep.Received) - matched[i]
	}
	return t
}

// Merge adds o's counts and latencies to t.
func (t *Tally) Merge(o Tally) {
	t.Expected += o.Expected
	t.Delivered += o.Delivered
	t.Duplicates += o.Duplicates
	t.Strays += o.Strays
	t.latencies = append(t.latencies, o.latencies...)
}

// Delivery is a tally's figures.
type Delivery struct {
	Expected   int     `json:"expected"`
	Delivered  int     `json:"delivered"`
	Missing    int     `json:"missing"`
	Duplicates int     `json:"duplicates"`
	Strays     int     `json:"strays"`
	Latency    Summary `json:"latency"` // POST sent → websocket frame received
}

// Delivery summarizes the tally.
func (t Tally) Delivery() Delivery {
	return Delivery{Expected: t.Expected, Delivered: t.Delivered, Missing: t.Expected - t.Delivered,
		Duplicates: t.Duplicates, Strays: t.Strays, Latency: Summarize(append([]time.Duration(nil), t.latencies...))}
}
