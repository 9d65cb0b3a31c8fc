package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// Two writers in one process each count on their own registry, and every
// series keeps its name.
func TestTwoSetsCountApart(t *testing.T) {
	regA, regB := prometheus.NewRegistry(), prometheus.NewRegistry()
	a, err := NewMetrics(regA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewMetrics(regB)
	if err != nil {
		t.Fatal(err)
	}
	a.RowsInserted.Add(5)
	a.ConsumerLag.WithLabelValues("stripe.events", "0").Set(3)
	b.RowsInserted.Add(2)
	if got := testutil.ToFloat64(a.RowsInserted); got != 5 {
		t.Errorf("a: rows inserted %v, want 5", got)
	}
	if got := testutil.ToFloat64(b.RowsInserted); got != 2 {
		t.Errorf("b: rows inserted %v, want 2", got)
	}
	if n, _ := testutil.GatherAndCount(regB, "event_writer_consumer_lag"); n != 0 {
		t.Errorf("b exports %d lag series, want none", n)
	}
	a.BatchSize.Observe(1)
	a.BatchSeconds.Observe(0.01)
	a.WriteErrors.WithLabelValues("store").Inc()
	for _, name := range []string{
		"event_writer_consumer_lag", "event_writer_batch_size", "event_writer_batch_seconds",
		"event_writer_rows_inserted_total", "event_writer_rows_raw_total", "event_writer_duplicates_skipped_total",
		"event_writer_poison_total", "event_writer_write_errors_total", "event_writer_retention_deleted_total",
	} {
		if n, err := testutil.GatherAndCount(regA, name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v), want 1", name, n, err)
		}
	}
}
