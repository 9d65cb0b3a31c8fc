package summary

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/tools/testenv"
)

func registry() (*prometheus.Registry, *prometheus.CounterVec, prometheus.Counter) {
	reg := prometheus.NewRegistry()
	byOutcome := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total"}, []string{"outcome"})
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "other_total"})
	reg.MustRegister(byOutcome, other)
	return reg, byOutcome, other
}

// Only the series that grew, of the families asked for, with how much.
func TestGrownSinceTheLastReading(t *testing.T) {
	reg, byOutcome, other := registry()
	byOutcome.WithLabelValues("accepted").Add(5)
	byOutcome.WithLabelValues("invalid_signature").Add(2)
	last := counts(reg, []string{"requests_total"})
	byOutcome.WithLabelValues("accepted").Add(3)
	other.Add(7)
	got := fmt.Sprint(grown(last, counts(reg, []string{"requests_total"})))
	if want := "[requests_total{outcome=accepted} 3]"; got != want {
		t.Fatalf("grown = %s, want %s", got, want)
	}
	if g := grown(last, last); len(g) != 0 {
		t.Fatalf("nothing grew, but grown = %v", g)
	}
}

// Run logs a summary line once a counter it watches grows.
func TestRunLogsWhatGrew(t *testing.T) {
	reg, byOutcome, other := registry()
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		Run(ctx, slog.New(slog.NewTextHandler(&logs, nil)), reg, 10*time.Millisecond, "requests_total")
		close(done)
	}()
	defer func() { cancel(); <-done }()
	testenv.Eventually(t, 5*time.Second, func() error {
		byOutcome.WithLabelValues("accepted").Inc()
		other.Inc()
		if !strings.Contains(logs.String(), "msg=summary") {
			return errors.New("no summary line yet")
		}
		return nil
	})
	line := strings.SplitN(logs.String(), "\n", 2)[0]
	if !strings.Contains(line, "outcome=accepted") || strings.Contains(line, "other_total") {
		t.Fatalf("summary line: %s; want the accepted series and nothing of other_total", line)
	}
}
