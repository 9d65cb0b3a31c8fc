package service

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

func TestWaitForRetriesAndLogsOnce(t *testing.T) {
	var logs bytes.Buffer
	calls := 0
	err := WaitFor(context.Background(), slog.New(slog.NewTextHandler(&logs, nil)), "database", func(context.Context) error {
		if calls++; calls < 4 {
			return errors.New("connection refused")
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("WaitFor = %v after %d calls, want nil after 4", err, calls)
	}
	if n := strings.Count(logs.String(), "waiting for a dependency"); n != 1 || !strings.Contains(logs.String(), "dependency answers") {
		t.Fatalf("want one waiting line and one answer line:\n%s", logs.String())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := WaitFor(ctx, slog.New(slog.DiscardHandler), "kafka", func(context.Context) error { return errors.New("no") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("WaitFor with an ended context = %v, want context.Canceled", err)
	}
}
