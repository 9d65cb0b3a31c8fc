// Package summary logs, every so often at info, what a service's counters
// did since the last line: webhook-ingest's answers by outcome, the
// event-writer's rows stored, duplicates and poison. A log reader sees the
// service's work without scraping /metrics, and an idle service says nothing.
package summary

import (
	"context"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Run logs a "summary" line every interval until ctx ends: for each counter
// family of g named in families, and each of its series, how much it grew
// since the last line ("stripeline_webhook_requests_total{outcome=accepted}":
// 120). Series that did not grow are left out; nothing grew, no line.
func Run(ctx context.Context, logger *slog.Logger, g prometheus.Gatherer, every time.Duration, families ...string) {
	last := counts(g, families)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := counts(g, families)
		if attrs := grown(last, now); len(attrs) > 0 {
			logger.Info("summary", append([]any{"over", every.String()}, attrs...)...)
		}
		last = now
	}
}

// counts is the value of every series of the named counter families.
func counts(g prometheus.Gatherer, families []string) map[string]float64 {
	out := map[string]float64{}
	mfs, err := g.Gather()
	if err != nil {
		return out
	}
	for _, mf := range mfs {
		if !slices.Contains(families, mf.GetName()) || mf.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, m := range mf.GetMetric() {
			out[series(mf.GetName(), m.GetLabel())] = m.GetCounter().GetValue()
		}
	}
	return out
}

func series(name string, labels []*dto.LabelPair) string {
	if len(labels) == 0 {
		return name
	}
	parts := make([]string, len(labels))
	for i, l := range labels {
		parts[i] = l.GetName() + "=" + l.GetValue()
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// grown is the series that grew from last to now, as slog attributes in
// name order.
func grown(last, now map[string]float64) []any {
	names := make([]string, 0, len(now))
	for s, v := range now {
		if v > last[s] {
			names = append(names, s)
		}
	}
	sort.Strings(names)
	attrs := make([]any, 0, 2*len(names))
	for _, s := range names {
		attrs = append(attrs, s, now[s]-last[s])
	}
	return attrs
}
