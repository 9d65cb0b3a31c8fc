package httpserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"
)

// Check is a readiness probe of one dependency; nil means ready.
type Check func(ctx context.Context) error

// Health registers the bare liveness route of a public port on mux: GET
// /healthz answers 200 {"status":"ok"} and says nothing about dependencies.
// The detailed /readyz and /metrics are on the ops port only (OpsHandler).
func Health(mux *http.ServeMux) {
	mux.HandleFunc("GET /healthz", healthz)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyTimeout bounds one /readyz: every check shares it.
const readyTimeout = 2 * time.Second

// OpsHandler is the ops port's whole surface:
//   - GET /healthz: the process is alive (200 {"status":"ok"});
//   - GET /readyz: 200 {"status":"ready"} when every check passes, else
//     503 {"status":"not ready","failed":["database",…]}. The answer names
//     the failed checks only: their errors (which may name a database
//     user, host or broker) go to logger, when a check's state changes and
//     at most once a minute while it keeps failing, so a probe every few
//     seconds does not flood the log;
//   - GET /metrics: Prometheus, what metrics gathers: the service's own
//     registry (NewRegistry), never the global default one, so that two
//     services in one process each export their own series. A nil metrics
//     serves an empty registry. Beside it, the checks' results at the
//     scrape: stripeline_ready and stripeline_ready_check{check}.
func OpsHandler(checks map[string]Check, metrics prometheus.Gatherer, logger *slog.Logger) http.Handler {
	if metrics == nil {
		metrics = prometheus.NewRegistry()
	}
	names := make([]string, 0, len(checks))
	for name := range checks {
		names = append(names, name)
	}
	slices.Sort(names)
	rl := &readyLog{logger: logger, last: map[string]checkState{}}
	run := func(ctx context.Context) []error {
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		defer cancel()
		errs := make([]error, len(names))
		var wg sync.WaitGroup
		for i, name := range names {
			wg.Go(func() { errs[i] = checks[name](ctx) })
		}
		wg.Wait()
		for i, name := range names {
			rl.note(name, errs[i])
		}
		return errs
	}
	ready := prometheus.NewRegistry()
	ready.MustRegister(&readiness{names: names, run: run})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		errs := run(r.Context())
		var failed []string
		for i, name := range names {
			if errs[i] != nil {
				failed = append(failed, name)
			}
		}
		if len(failed) == 0 {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "failed": failed})
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(prometheus.Gatherers{metrics, ready}, promhttp.HandlerOpts{}))
	return mux
}

// readiness exports what /readyz answers, evaluated at each scrape:
// stripeline_ready (1 when every check passes, else 0) and
// stripeline_ready_check{check} (each check's). Alerts on a replica that
// is not ready need it: Prometheus never calls /readyz.
type readiness struct {
	names []string
	run   func(context.Context) []error
}

var (
	readyDesc      = prometheus.NewDesc("stripeline_ready", "1 when every readiness check of the service passes (its /readyz answers 200), else 0; evaluated at each scrape.", nil, nil)
	readyCheckDesc = prometheus.NewDesc("stripeline_ready_check", "1 when the readiness check passes, else 0; evaluated at each scrape.", []string{"check"}, nil)
)

func (r *readiness) Describe(ch chan<- *prometheus.Desc) {
	ch <- readyDesc
	ch <- readyCheckDesc
}

func (r *readiness) Collect(ch chan<- prometheus.Metric) {
	errs := r.run(context.Background())
	all := 1.0
	for i, name := range r.names {
		v := 1.0
		if errs[i] != nil {
			v, all = 0, 0
		}
		ch <- prometheus.MustNewConstMetric(readyCheckDesc, prometheus.GaugeValue, v, name)
	}
	ch <- prometheus.MustNewConstMetric(readyDesc, prometheus.GaugeValue, all)
}

// NewRegistry is a service's metrics registry: the Go runtime's and the
// process's collectors, to which the service's packages add their own
// instruments (each a NewMetrics(reg) of theirs). OpsHandler serves it.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// readyLogEvery is how often a check that keeps failing is logged again.
const readyLogEvery = time.Minute

type checkState struct {
	failing bool
	logged  time.Time
}

// readyLog logs the checks' errors on change, rate-limited.
type readyLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	last   map[string]checkState
}

func (l *readyLog) note(name string, err error) {
	if l.logger == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, now := l.last[name], time.Now()
	switch {
	case err == nil && prev.failing:
		l.logger.Info("readiness check passes again", "check", name)
		l.last[name] = checkState{}
	case err == nil:
	case !prev.failing || now.Sub(prev.logged) >= readyLogEvery:
		l.logger.Warn("readiness check fails", "check", name, "error", err.Error())
		l.last[name] = checkState{failing: true, logged: now}
	}
}

// OpsLimits are the ops port's limits: DefaultLimits', with few
// connections (a prober and a scraper or two) and short timeouts.
func OpsLimits() Limits {
	l := DefaultLimits()
	l.ReadHeaderTimeout = 5 * time.Second
	l.ReadTimeout = 10 * time.Second
	l.WriteTimeout = 30 * time.Second
	l.MaxConns = 64
	return l
}

// ServeWithOps serves h on the public listener ln within limits, and ops on
// opsAddr within OpsLimits, until ctx ends or either server fails; then both
// stop accepting and drain their in-flight requests for up to grace. The
// ops address is opened before anything is served: a taken port fails the
// start, not a probe later.
func ServeWithOps(ctx context.Context, ln net.Listener, h http.Handler, limits Limits, opsAddr string, ops http.Handler, grace time.Duration, logger *slog.Logger) error {
	if opsAddr == "" {
		ln.Close()
		return errors.New("httpserver: no ops address")
	}
	opsLn, err := net.Listen("tcp", opsAddr)
	if err != nil {
		ln.Close()
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ServeListener(gctx, ln, h, limits, grace, logger) })
	g.Go(func() error {
		return ServeListener(gctx, opsLn, ops, OpsLimits(), grace, logger.With("listener", "ops"))
	})
	return g.Wait()
}

// Polled runs check now and then every interval, in the background until
// ctx ends, and returns a Check that answers its last result without
// running it: a dependency that is dialled (kafka.Reachable) is dialled
// every interval, not once per /readyz. Each run gets timeout. Until the
// first run ends, and when the last result is older than three intervals
// (the checker is stuck), the returned Check fails.
func Polled(ctx context.Context, interval, timeout time.Duration, check Check) Check {
	var (
		mu   sync.Mutex
		last = errors.New("not checked yet")
		at   time.Time
	)
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			cctx, cancel := context.WithTimeout(ctx, timeout)
			err := check(cctx)
			cancel()
			if ctx.Err() != nil {
				return
			}
			mu.Lock()
			last, at = err, time.Now()
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if !at.IsZero() && time.Since(at) > 3*interval {
			return errors.New("last check is stale (" + time.Since(at).Round(time.Second).String() + " old)")
		}
		return last
	}
}
