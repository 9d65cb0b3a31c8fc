package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/services/notifier/internal/ws"
)

// Metrics are the notifier's series: gauges read from its hub and its
// websocket server when /metrics is scraped.
type Metrics struct {
	Connections           prometheus.GaugeFunc
	SubscriptionsPinned   prometheus.GaugeFunc
	SubscriptionsUnpinned prometheus.GaugeFunc
	WindowEvents          prometheus.GaugeFunc
	WindowBytes           prometheus.GaugeFunc
	// Refused counts, per limit (label limit), the connections closed and
	// the requests refused by it (ws.Limits).
	Refused []prometheus.CounterFunc
}

// NewMetrics registers the gauges of h and s on reg, the notifier's own
// registry: two notifiers in one process (the tests) each export theirs.
func NewMetrics(reg prometheus.Registerer, h *hub.Hub, s *ws.Server) (*Metrics, error) {
	gauge := func(name, help string, f func() float64) prometheus.GaugeFunc {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "notifier", Name: name, Help: help}, f)
	}
	m := &Metrics{
		Connections:           gauge("connections", "Open websocket connections.", func() float64 { return float64(s.Connections()) }),
		SubscriptionsPinned:   gauge("subscriptions_pinned", "Subscriptions found through the id index.", func() float64 { return float64(h.Stats().Pinned) }),
		SubscriptionsUnpinned: gauge("subscriptions_unpinned", "Subscriptions evaluated against every event.", func() float64 { return float64(h.Stats().Unpinned) }),
		WindowEvents:          gauge("window_events", "Events in the recent window.", func() float64 { return float64(h.Stats().WindowEvents) }),
		WindowBytes:           gauge("window_bytes", "Bytes the recent window holds: bodies, headers, ids and index slots.", func() float64 { return float64(h.Stats().WindowBytes) }),
	}
	collectors := []prometheus.Collector{m.Connections, m.SubscriptionsPinned, m.SubscriptionsUnpinned, m.WindowEvents, m.WindowBytes}
	for _, l := range ws.Limits {
		c := prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "notifier", Name: "refused_total", ConstLabels: prometheus.Labels{"limit": l.String()},
			Help: "Connections closed and requests refused by a limit on what one client may hold.",
		}, func() float64 { return float64(s.Refused(l)) })
		m.Refused = append(m.Refused, c)
		collectors = append(collectors, c)
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
