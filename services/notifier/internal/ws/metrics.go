package ws

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the websocket server's counted series; the gauges and
// counters read from it (connections, notifier_refused_total, slow clients
// closed included as limit send_queue) are the app's.
type Metrics struct {
	// Deliveries counts message frames written to a client.
	Deliveries prometheus.Counter
	// DeliverySeconds is, per message frame written, the time from the
	// hub's hand-over to the end of the write: the wait in the client's
	// queue and the write itself.
	DeliverySeconds prometheus.Histogram
}

// NewMetrics registers the series on reg, the notifier's registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Deliveries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: "notifier", Name: "deliveries_total",
			Help: "Message frames (events) written to websocket clients.",
		}),
		DeliverySeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "notifier", Name: "delivery_seconds",
			Help: "Time from the hub's hand-over of an event to a connection to its frame written: queueing and the write.",
			// 50 µs to about 13 s: past the default NOTIFIER_WRITE_TIMEOUT of 10 s.
			Buckets: prometheus.ExponentialBuckets(0.00005, 2, 19),
		}),
	}
	for _, c := range []prometheus.Collector{m.Deliveries, m.DeliverySeconds} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
