// Package retention deletes stored events past their age, when an operator
// asked for it (EVENT_WRITER_RETENTION; off by default).
package retention

import (
	"context"
	"log/slog"
	"time"
)

// Defaults of the writer's loop: hourly, in batches small enough that one
// DELETE holds its locks for a moment.
const (
	DefaultInterval = time.Hour
	DefaultBatch    = 10000
)

// Config is a retention loop's settings.
type Config struct {
	// MaxAge is how long an event is kept after it was received; 0 (or
	// less) keeps events forever and Run returns at once.
	MaxAge   time.Duration
	Interval time.Duration // between runs; the first is at the start
	Batch    int           // rows per DELETE
}

// Deleter deletes the events received before a time, batch rows per
// statement (pgstore.DeleteEventsBefore), and answers how many it deleted.
type Deleter func(ctx context.Context, before time.Time, batch int) (int64, error)

// Deleted counts deleted rows (a Prometheus counter in the service).
type Deleted interface{ Add(float64) }

// Run deletes the events older than MaxAge now and every Interval until ctx
// ends. A failed run is logged and retried at the next: retention never
// stops the writer.
func Run(ctx context.Context, cfg Config, del Deleter, deleted Deleted, logger *slog.Logger) error {
	if cfg.MaxAge <= 0 {
		return nil
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	logger.Info("event retention on", "max_age", cfg.MaxAge.String(), "interval", cfg.Interval.String())
	t := time.NewTicker(cfg.Interval)
	defer t.Stop()
	for {
		before := time.Now().Add(-cfg.MaxAge)
		start := time.Now()
		n, err := del(ctx, before, cfg.Batch)
		if n > 0 && deleted != nil {
			deleted.Add(float64(n))
		}
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			logger.Warn("event retention: delete failed; retrying at the next run", "deleted", n, "received_before", before.UTC().Format(time.RFC3339), "error", err)
		default:
			logger.Info("event retention: deleted old events", "deleted", n, "received_before", before.UTC().Format(time.RFC3339), "duration", time.Since(start).Round(time.Millisecond).String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
