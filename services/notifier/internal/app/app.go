// Package app wires the notifier's parts and runs them until the context ends.
package app

import (
	"context"
	"io"
	"net/http"

	"github.com/IBM/sarama"
	"golang.org/x/sync/errgroup"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/services/notifier/internal/config"
	"github.com/stripeline/stripeline/services/notifier/internal/feed"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/services/notifier/internal/ws"
)

// Run serves the notifier until ctx ends.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := logging.New(cfg.Log, "notifier", logOut)
	if err != nil {
		return err
	}
	// No consumer group: this instance sees every partition, from now on.
	sub, err := kafka.NewSubscriber(cfg.Kafka, "", sarama.OffsetNewest, logger)
	if err != nil {
		return err
	}
	defer sub.Close()

	h := hub.New()
	wss := ws.NewServer(ws.Config{
		RequireToken: cfg.RequireToken,
		TokenSecret:  []byte(cfg.SubscriptionTokenSecret),
	}, h, logger)

	fd := feed.New(sub, cfg.Kafka.Topic, h, logger)
	mux := http.NewServeMux()
	mux.Handle("GET /ws", wss)
	httpserver.Ops(mux, map[string]httpserver.Check{
		"kafka": func(ctx context.Context) error { return kafka.Reachable(ctx, cfg.Kafka.Brokers) },
		"feed":  fd.Ready,
	})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return fd.Run(gctx) })
	g.Go(func() error {
		// Tell websocket clients to go elsewhere before the server stops.
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		wss.Shutdown(sctx)
		return nil
	})
	g.Go(func() error { return httpserver.Serve(gctx, cfg.Addr, mux, cfg.ShutdownGrace, logger) })
	return g.Wait()
}
