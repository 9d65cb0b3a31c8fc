// Package httpserver serves a service's HTTP port: its routes plus /healthz,
// /readyz and /metrics, with a graceful shutdown when the context ends.
package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is a readiness probe of one dependency; nil means ready.
type Check func(ctx context.Context) error

// Ops registers /healthz (the process is alive), /readyz (every check passes)
// and /metrics (Prometheus) on mux.
func Ops(mux *http.ServeMux, checks map[string]Check) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		status, failed := http.StatusOK, map[string]string{}
		for name, check := range checks {
			if err := check(ctx); err != nil {
				status, failed[name] = http.StatusServiceUnavailable, err.Error()
			}
		}
		if status == http.StatusOK {
			writeJSON(w, status, map[string]string{"status": "ready"})
			return
		}
		writeJSON(w, status, map[string]any{"status": "not ready", "failed": failed})
	})
	mux.Handle("GET /metrics", promhttp.Handler())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Serve listens on addr and serves h until ctx ends, then stops accepting and
// waits up to grace for in-flight requests.
func Serve(ctx context.Context, addr string, h http.Handler, grace time.Duration, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, h, grace, logger)
}

// ServeListener is Serve on a listener the caller opened.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, grace time.Duration, logger *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String())
	serve := func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	return Run(ctx, serve, srv.Shutdown, grace)
}

// Run calls serve until it returns or ctx ends; then shutdown has up to
// grace to drain the requests in flight. It is ServeListener's lifecycle,
// for servers other than net/http's (webhook-ingest's fasthttp).
func Run(ctx context.Context, serve func() error, shutdown func(context.Context) error, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := shutdown(sctx)
	if e := <-errc; e != nil && err == nil {
		err = e
	}
	return err
}
