package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Each accepted webhook counts for the group its charge belongs to, and is
// delivered only when that group received it; the latency is receipt less
// POST, across processes by the wall clock.
func TestMatchTalliesEachGroup(t *testing.T) {
	ms := int64(time.Millisecond)
	sent := []Sent{
		{EventID: "evt_a", Group: 0, At: 1000 * ms},
		{EventID: "evt_b", Group: 0, At: 1000 * ms},
		{EventID: "evt_c", Group: 1, At: 2000 * ms},
		{EventID: "evt_d", Group: 1, At: 2000 * ms}, // never received
		{EventID: "evt_x", Group: 7, At: 0},         // no such group: ignored
	}
	groups := []ReceiptReport{
		{Received: map[string]int64{"evt_a": 1004 * ms, "evt_b": 1010 * ms}, Duplicates: 1},
		// evt_a reached group 1 too: a stray, not a delivery.
		{Received: map[string]int64{"evt_c": 2040 * ms, "evt_a": 1005 * ms}},
	}
	tallies := Match(sent, groups)
	for i, want := range []Delivery{
		{Expected: 2, Delivered: 2, Missing: 0, Duplicates: 1},
		{Expected: 2, Delivered: 1, Missing: 1, Strays: 1},
	} {
		got := tallies[i].Delivery()
		if got.Expected != want.Expected || got.Delivered != want.Delivered || got.Missing != want.Missing ||
			got.Duplicates != want.Duplicates || got.Strays != want.Strays {
			t.Errorf("group %d: %+v, want %+v", i, got, want)
		}
	}
	if d := tallies[0].Delivery(); d.Latency.Count != 2 || d.Latency.Max != 10 {
		t.Errorf("group 0 latency %+v, want 2 samples, max 10 ms", d.Latency)
	}

	var all Tally
	for _, tl := range tallies {
		all.Merge(tl)
	}
	d := all.Delivery()
	if d.Expected != 4 || d.Delivered != 3 || d.Missing != 1 || d.Duplicates != 1 || d.Strays != 1 {
		t.Errorf("merged %+v, want 4 expected, 3 delivered, 1 missing, 1 duplicate, 1 stray", d)
	}
	if d.Latency.Count != 3 || d.Latency.P50 != 10 || d.Latency.Max != 40 {
		t.Errorf("merged latency %+v, want 3 samples, p50 10 ms, max 40 ms", d.Latency)
	}
	// Summarizing sorts a copy: the tally's samples stay as they were.
	if again := all.Delivery(); again.Latency.Count != d.Latency.Count || again.Latency.P50 != d.Latency.P50 {
		t.Errorf("second summary %+v differs from the first %+v", again.Latency, d.Latency)
	}
}

func TestReceiptsKeepTheFirstArrival(t *testing.T) {
	var r Receipts
	t0 := time.Unix(100, 0)
	r.Record("evt_a", t0)
	r.Record("evt_a", t0.Add(time.Second))
	r.Record("evt_b", t0)
	rep := r.Report()
	if r.Len() != 2 || rep.Duplicates != 1 || rep.Received["evt_a"] != t0.UnixNano() {
		t.Fatalf("len %d, report %+v: want 2 events, 1 duplicate, evt_a at its first arrival", r.Len(), rep)
	}
}

// A sender elsewhere aims at the ids `connections --seed S --n N` pins.
func TestIDsAreTheSeedsOwn(t *testing.T) {
	a, b := Seeded(7).IDs("ch_", 3), Seeded(7).IDs("ch_", 5)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("ids of seed 7 differ: %v, %v", a, b)
		}
	}
}

func TestPremade(t *testing.T) {
	for _, c := range []struct {
		load Load
		want int
	}{
		{Load{Rate: 1000, Duration: 30 * time.Second}, 30_000 + 10 + 16},
		{Load{Rate: 1000, Duration: 30 * time.Second, Count: 500}, 500},
		{Load{Duration: 30 * time.Second}, 0},
		{Load{Count: 7}, 7},
		{Load{Rate: 10_000, Duration: time.Hour}, maxPremade},
	} {
		if got := premade(c.load); got != c.want {
			t.Errorf("premade(%+v) = %d, want %d", c.load, got, c.want)
		}
	}
}

// Only accepted webhooks are Sent, each for a charge of the
// group it names, every group drawn on.
func TestSendSpreadRecordsTheAcceptedOnes(t *testing.T) {
	targets := [][]string{Seeded(1).IDs("ch_", 3), Seeded(2).IDs("ch_", 3)}
	owner := map[string]int{}
	for g, ids := range targets {
		for _, id := range ids {
			owner[id] = g
		}
	}
	var (
		mu      sync.Mutex
		charge  = map[string]string{} // event id → charge id, as the server saw them
		refused = map[string]bool{}
		n       int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		env, err := stripeevent.Parse(body)
		mu.Lock()
		defer mu.Unlock()
		n++
		if err != nil || !strings.HasPrefix(r.Header.Get("Stripe-Signature"), "t=") || n%5 == 0 {
			refused[env.ID] = true
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		charge[env.ID] = env.ObjectID
	}))
	defer srv.Close()
	before := time.Now().UnixNano()
	res, err := SendSpread(context.Background(), SpreadConfig{URL: srv.URL + "/webhooks/stripe", Secret: "whsec_test",
		Targets: targets, Seed: 3, Load: Load{Concurrency: 4, Count: 40}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Send.Sent != 40 || len(res.Sent) != res.Send.Accepted || len(res.Sent) != 32 {
		t.Fatalf("sent %d, accepted %d, %d recorded: want 40 sent, 32 accepted and recorded", res.Send.Sent, res.Send.Accepted, len(res.Sent))
	}
	groups := map[int]int{}
	for _, s := range res.Sent {
		id, ok := charge[s.EventID]
		if !ok || refused[s.EventID] {
			t.Fatalf("%s recorded, but the server did not accept it", s.EventID)
		}
		if owner[id] != s.Group || s.At < before || s.At > time.Now().UnixNano() {
			t.Fatalf("%+v: charge %s is group %d's", s, id, owner[id])
		}
		groups[s.Group]++
	}
	if len(groups) != 2 {
		t.Errorf("groups drawn on: %v, want both", groups)
	}
}
