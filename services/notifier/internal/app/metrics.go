package app

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/services/notifier/internal/ws"
)

var metricsOnce sync.Once

// registerMetrics exposes the hub's and the websocket server's gauges on
// /metrics. Once per process: tests run several notifiers in one.
func registerMetrics(h *hub.Hub, s *ws.Server) {
	metricsOnce.Do(func() {
		gauge := func(name, help string, f func() float64) {
			prometheus.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "notifier", Name: name, Help: help}, f))
		}
		gauge("connections", "Open websocket connections.", func() float64 { return float64(s.Connections()) })
		gauge("subscriptions_pinned", "Subscriptions found through the id index.", func() float64 { return float64(h.Stats().Pinned) })
		gauge("subscriptions_unpinned", "Subscriptions evaluated against every event.", func() float64 { return float64(h.Stats().Unpinned) })
		gauge("window_events", "Events in the recent window.", func() float64 { return float64(h.Stats().WindowEvents) })
		gauge("window_bytes", "Raw bytes of the events in the recent window.", func() float64 { return float64(h.Stats().WindowBytes) })
	})
}
