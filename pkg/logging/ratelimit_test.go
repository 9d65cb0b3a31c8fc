package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRateLimitedDropsRepeatsAndCountsThem(t *testing.T) {
	var out bytes.Buffer
	h := RateLimited(slog.NewTextHandler(&out, nil), time.Minute)
	log := func(at time.Time, level slog.Level, msg string) {
		r := slog.NewRecord(at, level, msg, 0)
		if err := h.WithAttrs([]slog.Attr{slog.String("component", "x")}).Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Unix(1700000000, 0)
	for i := range 5 {
		log(t0.Add(time.Duration(i)*time.Second), slog.LevelError, "reconnect failed")
	}
	log(t0.Add(2*time.Second), slog.LevelError, "another line")
	log(t0.Add(2*time.Second), slog.LevelWarn, "reconnect failed") // another level: its own line
	log(t0.Add(2*time.Minute), slog.LevelError, "reconnect failed")

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4 (first, another, warn, the next after a minute):\n%s", len(lines), out.String())
	}
	if strings.Contains(lines[0], "repeated") || !strings.Contains(lines[3], "repeated=4") {
		t.Fatalf("the first line says nothing of repeats, the last says 4:\n%s", out.String())
	}
}
