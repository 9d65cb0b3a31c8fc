package retention

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/testenv"
)

type counter struct {
	mu sync.Mutex
	n  float64
}

func (c *counter) Add(v float64) { c.mu.Lock(); c.n += v; c.mu.Unlock() }

func TestOffByDefault(t *testing.T) {
	called := false
	del := func(context.Context, time.Time, int) (int64, error) { called = true; return 0, nil }
	if err := Run(context.Background(), Config{}, del, nil, slog.New(slog.DiscardHandler)); err != nil || called {
		t.Fatalf("Run with MaxAge 0 = %v, deleted: %v; want nil at once and nothing deleted", err, called)
	}
}

func TestRunDeletesPeriodicallyAndSurvivesErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type call struct {
		before time.Time
		batch  int
	}
	calls := make(chan call, 10)
	n := 0
	del := func(_ context.Context, before time.Time, batch int) (int64, error) {
		n++
		calls <- call{before, batch}
		if n == 2 {
			return 3, errors.New("database went away")
		}
		return 5, nil
	}
	logs := &testenv.Buffer{}
	deleted := &counter{}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		done <- Run(ctx, Config{MaxAge: 24 * time.Hour, Interval: 10 * time.Millisecond, Batch: 7}, del, deleted, slog.New(slog.NewTextHandler(logs, nil)))
	}()
	for i := range 3 {
		select {
		case c := <-calls:
			if c.batch != 7 {
				t.Fatalf("batch %d, want 7", c.batch)
			}
			// The cutoff is MaxAge before the run.
			if age := start.Sub(c.before); age < 24*time.Hour-time.Minute || age > 24*time.Hour+time.Minute {
				t.Fatalf("run %d deletes what was received before %s, %s before the start; want about 24h", i, c.before, age)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d runs", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v after the context ended, want nil", err)
	}
	out := logs.String()
	if !strings.Contains(out, "deleted=5") || !strings.Contains(out, "database went away") {
		t.Fatalf("logs lack the count or the error:\n%s", out)
	}
	deleted.mu.Lock()
	defer deleted.mu.Unlock()
	if deleted.n < 5+3+5 {
		t.Fatalf("counted %v deleted, want at least 13", deleted.n)
	}
}
