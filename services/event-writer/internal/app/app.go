// Package app wires event-writer's parts and runs them until the context ends.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
)

// Main runs the subcommand in args: none (consume), or "migrate".
func Main(ctx context.Context, cfg config.Config, args []string, logOut io.Writer) error {
	logger, err := logging.New(cfg.Log, "event-writer", logOut)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()

	cmd := ""
	if len(args) > 0 {
		cmd = args[0]
	}
	switch cmd {
	case "":
		return run(ctx, cfg, pool, logger)
	case "migrate":
		n, err := pgstore.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		logger.Info("migrations applied", "count", n)
		return nil
	default:
		return fmt.Errorf("unknown command %q (commands: migrate)", cmd)
	}
}

type poolStore struct{ pool *pgxpool.Pool }

func (s poolStore) InsertEvents(ctx context.Context, events []pgstore.Event) (int, error) {
	return pgstore.InsertEvents(ctx, s.pool, events)
}

func run(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, logger *slog.Logger) error {
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sub, err := kafka.NewSubscriber(cfg.Kafka, cfg.ConsumerGroup, sarama.OffsetOldest, logger)
	if err != nil {
		return err
	}
	pub, err := kafka.NewPublisher(cfg.Kafka, "event-writer", logger)
	if err != nil {
		return err
	}
	defer pub.Close()

	router, err := message.NewRouter(message.RouterConfig{}, watermill.NewSlogLogger(logger))
	if err != nil {
		return err
	}
	w := writer.New(poolStore{pool}, pub, cfg.Kafka.PoisonTopic(), logger)
	router.AddNoPublisherHandler("store", cfg.Kafka.Topic, sub, w.Handle)

	mux := http.NewServeMux()
	httpserver.Ops(mux, map[string]httpserver.Check{
		"database": pool.Ping,
		"kafka":    func(ctx context.Context) error { return kafka.Reachable(ctx, cfg.Kafka.Brokers) },
	})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return router.Run(gctx) })
	g.Go(func() error { return httpserver.Serve(gctx, cfg.Addr, mux, cfg.ShutdownGrace, logger) })
	return g.Wait()
}
