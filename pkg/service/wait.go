package service

import (
	"context"
	"log/slog"
	"time"
)

// WaitFor calls try until it succeeds or ctx ends, with backoff from 100 ms
// to 5 s, so a service starts before its dependency and waits for it: the
// first failure is logged at warn, then one a minute, and the success after
// a failure at info. It returns ctx's error when ctx ends first.
func WaitFor(ctx context.Context, logger *slog.Logger, what string, try func(context.Context) error) error {
	backoff, logged := 100*time.Millisecond, time.Time{}
	for {
		err := try(ctx)
		if err == nil {
			if !logged.IsZero() {
				logger.Info("dependency answers", "dependency", what)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(logged) > time.Minute {
			logger.Warn("waiting for a dependency; not ready meanwhile", "dependency", what, "error", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
