package httpapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the routes' series. Every one is labelled by the route
// pattern a request matched ("POST /{appID}/{apiKey}/services/Stripe/charge"),
// never by its path: the Backendless path carries the client's API key.
type Metrics struct {
	Requests       *prometheus.CounterVec
	RequestSeconds *prometheus.HistogramVec
	RateLimited    *prometheus.CounterVec
}

// NewMetrics registers the series on reg, the api's registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripeline_api_requests_total",
			Help: "Requests to the api's routes, by route pattern and HTTP status.",
		}, []string{"route", "status"}),
		RequestSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stripeline_api_request_seconds",
			Help: "Time from request to answer, by route pattern; a payment's includes the call to Stripe.",
			// 1 ms to about 65 s: past the default STRIPE_TIMEOUT of 30 s.
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 17),
		}, []string{"route"}),
		RateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stripeline_api_rate_limited_total",
			Help: "Payment requests refused with 429 by the api's own rate limits, by limit (api_key, address).",
		}, []string{"limit"}),
	}
	for _, c := range []prometheus.Collector{m.Requests, m.RequestSeconds, m.RateLimited} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, l := range []string{scopeKey, scopeAddr} {
		m.RateLimited.WithLabelValues(l)
	}
	return m, nil
}

// instrumented counts and times next's requests under their route pattern.
func (m *Metrics) instrumented(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		m.Requests.WithLabelValues(r.Pattern, strconv.Itoa(sw.status)).Inc()
		m.RequestSeconds.WithLabelValues(r.Pattern).Observe(time.Since(start).Seconds())
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
