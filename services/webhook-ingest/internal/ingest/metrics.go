package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the handler's Prometheus series: how many deliveries ended
// how, and how long they took.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers the series on reg (the service's own registry,
// httpserver.NewRegistry, which its ops port serves; one of their own in
// tests).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripeline_webhook_requests_total",
			Help: "Webhook deliveries by outcome: accepted, a rejection reason, or a broker error.",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stripeline_webhook_request_duration_seconds",
			Help: "Time from request to answer, by outcome; for accepted ones it includes the broker's acknowledgement.",
			// 0.5 ms to 8 s: past the default publish timeout of 5 s.
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 15),
		}, []string{"outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, o := range outcomes {
		m.requests.WithLabelValues(o)
	}
	return m, nil
}

func (m *Metrics) observe(outcome string, d time.Duration) {
	m.requests.WithLabelValues(outcome).Inc()
	m.duration.WithLabelValues(outcome).Observe(d.Seconds())
}
