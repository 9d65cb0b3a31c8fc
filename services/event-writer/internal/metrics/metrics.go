// Package metrics is event-writer's Prometheus instruments, served on /metrics.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are event-writer's instruments. NewMetrics registers them on the
// service's registry; the packages that count are handed them.
type Metrics struct {
	ConsumerLag       *prometheus.GaugeVec
	BatchSize         prometheus.Histogram
	BatchSeconds      prometheus.Histogram
	RowsInserted      prometheus.Counter
	RowsRaw           prometheus.Counter
	DuplicatesSkipped prometheus.Counter
	Poison            prometheus.Counter
	WriteErrors       *prometheus.CounterVec
	RetentionDeleted  prometheus.Counter
	// ReconcileFound counts the events Stripe listed that stripe_events
	// lacked, published by the periodic reconcile; ReconcileRuns its runs
	// by outcome (ok, error, locked: another replica held the lock).
	ReconcileFound prometheus.Counter
	ReconcileRuns  *prometheus.CounterVec
}

// NewMetrics builds the instruments and registers them on reg (the
// service's own registry, httpserver.NewRegistry, which its ops port
// serves; a fresh one in tests and one-shot commands).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		// ConsumerLag is, per partition, how many messages the broker holds past
		// the last one written: the high-water mark minus the next offset.
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "event_writer_consumer_lag",
			Help: "Messages of the partition not yet written: its end offset minus the group's committed offset, polled every few seconds.",
		}, []string{"topic", "partition"}),

		BatchSize: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "event_writer_batch_size",
			Help:    "Events per transaction (group commit of the messages in flight).",
			Buckets: []float64{1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000},
		}),

		BatchSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "event_writer_batch_seconds",
			Help:    "Time of one transaction.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),

		RowsInserted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_rows_inserted_total",
			Help: "Rows added to stripe_events.",
		}),

		RowsRaw: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_rows_raw_total",
			Help: "Rows stored with the raw body in payload_raw because PostgreSQL's jsonb refused it (also counted in rows_inserted).",
		}),

		DuplicatesSkipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_duplicates_skipped_total",
			Help: "Events not inserted because their event_id was already stored (redeliveries).",
		}),

		Poison: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_poison_total",
			Help: "Messages that can never be stored (not an event, or refused even raw): sent to the poison topic, or skipped by a replay.",
		}),

		WriteErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "event_writer_write_errors_total",
			Help: "Failed transactions; their messages are retried with backoff.",
		}, []string{"step"}),

		RetentionDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_retention_deleted_total",
			Help: "Rows deleted from stripe_events by EVENT_WRITER_RETENTION.",
		}),
		ReconcileFound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "event_writer_reconcile_found_total",
			Help: "Events in Stripe's event list that stripe_events lacked (webhooks never delivered), published by EVENT_WRITER_RECONCILE_EVERY.",
		}),
		ReconcileRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "event_writer_reconcile_runs_total",
			Help: "Reconcile runs by outcome: ok, error, locked (another replica ran it).",
		}, []string{"outcome"}),
	}
	for _, o := range []string{"ok", "error", "locked"} {
		m.ReconcileRuns.WithLabelValues(o)
	}
	for _, c := range []prometheus.Collector{
		m.ConsumerLag, m.BatchSize, m.BatchSeconds, m.RowsInserted, m.RowsRaw,
		m.DuplicatesSkipped, m.Poison, m.WriteErrors, m.RetentionDeleted, m.ReconcileFound, m.ReconcileRuns,
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.WriteErrors.WithLabelValues("store") // exported from the start, at 0
	return m, nil
}
