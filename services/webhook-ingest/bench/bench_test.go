package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/testenv"
)

// TestRunSmall runs every measurement on a few messages: they complete, every
// request got a 200 (Run fails otherwise), and the figures are filled in.
// Speed itself is not asserted here; `make bench` reports it. Memory is: the
// live heap grows by far less than the bodies the silent sockets declared.
func TestRunSmall(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r, err := Run(ctx, Config{Brokers: []string{testenv.Broker(t)}, EventsDir: "../testdata/events", Senders: 8, Messages: 400, BatchSize: 100, Floors: true, SilentSockets: 100})
	if err != nil {
		t.Fatal(err)
	}
	if r.HTTPFloor == nil || r.ProduceFloor == nil {
		t.Fatalf("floors not measured: %+v", r)
	}
	for _, f := range []Figure{r.Ingest, r.Bare, r.Publisher, *r.HTTPFloor, *r.ProduceFloor} {
		if f.Messages != 400 || f.PerSecond <= 0 || f.P50 <= 0 || f.P99 < f.P50 {
			t.Errorf("figure %+v", f)
		}
	}
	if r.Ratio <= 0 || r.MeanBytes < 1500 || len(r.BareRuns) != 3 {
		t.Errorf("report %+v", r)
	}
	m := r.Memory
	if m == nil || m.Sockets != 100 || m.RSSBefore <= 0 || m.RSSAfter <= 0 || m.HeapInuseBefore <= 0 {
		t.Fatalf("memory not measured: %+v", m)
	}
	// 100 MiB declared; a server that allocated it would be far over.
	if grew := m.HeapInuseAfter - m.HeapInuseBefore; grew > 32<<20 {
		t.Errorf("the heap grew by %d MiB for %d silent sockets", grew>>20, m.Sockets)
	}
	t.Log("\n" + r.String())
}
