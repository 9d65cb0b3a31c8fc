package backfill

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReconcileConfig is the periodic reconcile: every Every, look back Window.
type ReconcileConfig struct {
	Every, Window time.Duration
	Topic         string
}

// Locker runs fn only if this replica holds the reconcile lock, and says
// whether it did (pgstore.TryLocked with pgstore.ReconcileLock).
type Locker func(ctx context.Context, fn func(ctx context.Context) error) (bool, error)

// Metrics are the reconcile's series.
type Metrics struct {
	Found prometheus.Counter     // events missing from stripe_events, published
	Runs  *prometheus.CounterVec // by outcome: ok, error, locked
}

// Reconcile runs a backfill over the last cfg.Window at start and then every
// cfg.Every until ctx ends, catching the webhooks Stripe never delivered.
// One replica at a time runs it (lock); the others count "locked". A
// failed run is logged and counted, and the next one tries again.
func Reconcile(ctx context.Context, cfg ReconcileConfig, src Lister, known Known, pub Publisher, lock Locker, m Metrics, logger *slog.Logger) error {
	t := time.NewTicker(cfg.Every)
	defer t.Stop()
	for {
		var st Stats
		ran, err := lock(ctx, func(ctx context.Context) error {
			var err error
			st, err = Run(ctx, Config{Since: time.Now().Add(-cfg.Window), Topic: cfg.Topic}, src, known, pub, logger)
			return err
		})
		m.Found.Add(float64(st.Published))
		switch {
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			m.Runs.WithLabelValues("error").Inc()
			logger.Warn("reconcile with Stripe failed; the next run tries again", "error", err, "published", st.Published)
		case !ran:
			m.Runs.WithLabelValues("locked").Inc()
		default:
			m.Runs.WithLabelValues("ok").Inc()
			logger.Info("reconciled with Stripe", "listed", st.Listed, "missing_published", st.Published, "window", cfg.Window.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
