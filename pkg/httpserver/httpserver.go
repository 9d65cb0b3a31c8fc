// Package httpserver serves a service's HTTP ports with a graceful shutdown
// when the context ends: the public port (the product's routes and a bare
// /healthz, see Health) and the ops port (/healthz, the detailed /readyz and
// /metrics, see OpsHandler and ServeWithOps).
package httpserver

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Limits bound what one connection, and all of them together, may take of a
// server. A zero field takes DefaultLimits' value: a server always has them.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's header, from the start of
	// the request (a new connection's accept, or a kept-alive connection's
	// first byte).
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, header and body, from
	// the same start. A handler's read past it fails with a timeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds the handler and its answer, from the end of the
	// request's header: an answer not written by then is lost.
	WriteTimeout time.Duration
	// IdleTimeout bounds a kept-alive connection's wait for its next request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds a request's header; net/http answers 431 itself
	// beyond it (it reads 4 KiB more than this before it gives up).
	MaxHeaderBytes int
	// MaxConns bounds the connections served at once, hijacked ones
	// (websockets) included. The next one waits in the kernel's accept
	// queue, unserved, until one closes.
	MaxConns int
}

// DefaultLimits are the limits of a service that sets none of its own:
//   - ReadHeaderTimeout 10 s and ReadTimeout 30 s: the requests of every
//     service are a few KB of header and JSON; a client slower than that is
//     broken or hostile, and holds a connection and its goroutine meanwhile;
//   - WriteTimeout 60 s: above the api's longest handler (a Stripe call,
//     STRIPE_TIMEOUT 30 s);
//   - IdleTimeout 2 min: keep-alive connections of clients that pool them;
//   - MaxHeaderBytes 16 KiB: Stripe's headers are under 1 KiB, a browser's
//     with cookies a few KiB; net/http's own default is 1 MiB;
//   - MaxConns 4096: with a goroutine and two 4 KiB buffers each, a few
//     tens of MiB at most, and under the usual file descriptor limits.
func DefaultLimits() Limits {
	return Limits{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		MaxConns:          4096,
	}
}

// LimitsOf is DefaultLimits with a service's four settings: the read,
// write and idle timeouts and the connection bound. The header's read
// timeout stays DefaultLimits', or the read timeout when that is shorter.
func LimitsOf(read, write, idle time.Duration, maxConns int) Limits {
	l := DefaultLimits()
	l.ReadHeaderTimeout = min(l.ReadHeaderTimeout, read)
	l.ReadTimeout, l.WriteTimeout, l.IdleTimeout, l.MaxConns = read, write, idle, maxConns
	return l
}

// Validate reports every limit a service's settings cannot leave unset:
// ReadTimeout, WriteTimeout, IdleTimeout and MaxConns must be positive. Each
// error names the setting, prefix followed by READ_TIMEOUT, WRITE_TIMEOUT,
// IDLE_TIMEOUT or MAX_CONNECTIONS (prefix "API_": API_READ_TIMEOUT, …): every
// service reads its server's limits under those four names. (A zero would
// quietly take DefaultLimits' value, a negative one would turn the bound off.)
func (l Limits) Validate(prefix string) error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"READ_TIMEOUT", l.ReadTimeout}, {"WRITE_TIMEOUT", l.WriteTimeout}, {"IDLE_TIMEOUT", l.IdleTimeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s%s must be positive", prefix, d.name))
		}
	}
	if l.MaxConns <= 0 {
		errs = append(errs, fmt.Errorf("%sMAX_CONNECTIONS must be positive", prefix))
	}
	return errors.Join(errs...)
}

// withDefaults is l with each zero field set to DefaultLimits' value.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	l.ReadHeaderTimeout = cmp.Or(l.ReadHeaderTimeout, d.ReadHeaderTimeout)
	l.ReadTimeout = cmp.Or(l.ReadTimeout, d.ReadTimeout)
	l.WriteTimeout = cmp.Or(l.WriteTimeout, d.WriteTimeout)
	l.IdleTimeout = cmp.Or(l.IdleTimeout, d.IdleTimeout)
	l.MaxHeaderBytes = cmp.Or(l.MaxHeaderBytes, d.MaxHeaderBytes)
	l.MaxConns = cmp.Or(l.MaxConns, d.MaxConns)
	return l
}

// Serve listens on addr and serves h within limits until ctx ends, then
// stops accepting and waits up to grace for in-flight requests.
func Serve(ctx context.Context, addr string, h http.Handler, limits Limits, grace time.Duration, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return ServeListener(ctx, ln, h, limits, grace, logger)
}

// ServeListener is Serve on a listener the caller opened. Every service
// serves its port through it.
func ServeListener(ctx context.Context, ln net.Listener, h http.Handler, limits Limits, grace time.Duration, logger *slog.Logger) error {
	limits = limits.withDefaults()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.ReadHeaderTimeout,
		ReadTimeout:       limits.ReadTimeout,
		WriteTimeout:      limits.WriteTimeout,
		IdleTimeout:       limits.IdleTimeout,
		MaxHeaderBytes:    limits.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	logger.Info("listening", "addr", ln.Addr().String(), "max_conns", limits.MaxConns)
	ln = netutil.LimitListener(ln, limits.MaxConns)
	errc := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if e := <-errc; e != nil && err == nil {
		err = e
	}
	return err
}
