// Package app wires the notifier's parts and runs them until the context ends.
package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/services/notifier/internal/config"
	"github.com/stripeline/stripeline/services/notifier/internal/feed"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/services/notifier/internal/ws"
)

// readyInterval is how often the readiness check dials the brokers, and
// readyTimeout bounds one round.
const (
	readyInterval = 5 * time.Second
	readyTimeout  = 2 * time.Second
)

// Run serves the notifier until ctx ends: /ws and a bare /healthz on
// NOTIFIER_ADDR, the ops endpoints on NOTIFIER_OPS_ADDR.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return RunListener(ctx, cfg, ln, logOut)
}

// RunListener is Run on a listener the caller opened.
func RunListener(ctx context.Context, cfg config.Config, ln net.Listener, logOut io.Writer) error {
	logger, err := service.Logger(cfg, cfg.Log, "notifier", logOut)
	if err != nil {
		ln.Close()
		return err
	}
	tr, err := tracing.New(ctx, cfg.Tracing, "notifier")
	if err != nil {
		ln.Close()
		return err
	}
	defer tracing.ShutdownWithin(tr, cfg.ShutdownGrace, logger)
	h := hub.New(hub.Config{Window: cfg.Window, WindowMaxBytes: cfg.WindowMaxBytes})
	reg := httpserver.NewRegistry()
	wsMetrics, err := ws.NewMetrics(reg)
	if err != nil {
		ln.Close()
		return err
	}
	wss := ws.NewServer(ws.Config{
		RequireToken:     cfg.RequireToken,
		TokenKeys:        cfg.TokenKeys(),
		AllowedOrigins:   cfg.AllowedOrigins,
		QueueSize:        cfg.SendQueue,
		WriteTimeout:     cfg.WriteTimeout,
		PingInterval:     cfg.PingInterval,
		MaxFrame:         cfg.MaxFrameBytes,
		MaxSubscriptions: cfg.MaxSubscriptions,
		MaxUnpinned:      cfg.MaxUnpinned,

		MaxConnections:           cfg.MaxConnections,
		MaxConnectionsPerAddress: cfg.MaxConnectionsPerAddress,
		MaxConnectionsPerID:      cfg.MaxConnectionsPerID,
		TrustedProxies:           cfg.TrustedProxyPrefixes(),
		MaxSelectorValues:        cfg.MaxSelectorValues,
		MaxSelectorNodes:         cfg.MaxSelectorNodes,
		MaxConnectionBytes:       cfg.MaxConnectionBytes,
		Tracer:                   tr.Tracer("notifier"),
		Metrics:                  wsMetrics,
	}, h, logger)
	fd := feed.New(feed.Config{Kafka: cfg.Kafka, Window: cfg.Window, Tracing: tr.Provider()}, h, logger)
	if _, err := NewMetrics(reg, h, wss); err != nil {
		ln.Close()
		return err
	}

	mux := http.NewServeMux()
	mux.Handle("GET /ws", wss)
	httpserver.Health(mux)

	g, gctx := errgroup.WithContext(ctx)
	// Readiness dials the brokers every readyInterval in the background,
	// not once per /readyz.
	ops := httpserver.OpsHandler(map[string]httpserver.Check{
		"kafka": httpserver.Polled(gctx, readyInterval, readyTimeout, func(ctx context.Context) error {
			return kafka.Reachable(ctx, cfg.Kafka.Brokers)
		}),
		"feed": fd.Ready,
	}, reg, logger)
	g.Go(func() error { return fd.Run(gctx) })
	// On shutdown, clients get a going-away close frame so they reconnect to
	// another instance.
	g.Go(func() error { return wss.Run(gctx, cfg.ShutdownGrace) })
	// Every websocket client holds a connection of its own for as long as it
	// is subscribed: NOTIFIER_HTTP_MAX_CONNECTIONS bounds them (config.Config).
	// The ops endpoints are on NOTIFIER_OPS_ADDR.
	g.Go(func() error {
		return httpserver.ServeWithOps(gctx, ln, mux, cfg.Limits(), cfg.OpsAddr, ops, cfg.ShutdownGrace, logger)
	})
	return g.Wait()
}
