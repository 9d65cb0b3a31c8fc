// Package app wires event-writer's parts and runs them until the context ends.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/services/event-writer/internal/consumer"
	"github.com/stripeline/stripeline/services/event-writer/internal/replay"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
)

const usage = `usage:
  event-writer                      consume the events topic into the table (the default)
  event-writer migrate              apply the database migrations and exit
  event-writer replay --from earliest|<RFC 3339> [--to <RFC 3339>]
                                    re-read the topic into the table, then exit`

// Main runs the subcommand in args: none (consume), "migrate" or "replay".
func Main(ctx context.Context, cfg config.Config, args []string, logOut io.Writer) error {
	logger, err := logging.New(cfg.Log, "event-writer", logOut)
	if err != nil {
		return err
	}
	cmd := ""
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	var replayCfg replay.Config
	switch cmd {
	case "", "migrate":
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q\n%s", args, usage)
		}
	case "replay":
		if replayCfg, err = replayFlags(cfg, args, logOut); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}

	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	n, err := pgstore.Migrate(ctx, pool)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	logger.Info("migrations applied", "count", n)

	switch cmd {
	case "migrate":
		return nil
	case "replay":
		w := writer.New(writerConfig(cfg), poolStore{pool}, nil, logger)
		st, err := replay.Run(ctx, replayCfg, w, logger)
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		logger.Info("replay done", "events", st.Events, "inserted", st.Inserted, "duplicates", st.Duplicates,
			"poison_skipped", st.Poison, "duration", st.Duration.Round(1e6).String())
		return nil
	default:
		return Run(ctx, cfg, pool, logger)
	}
}

func replayFlags(cfg config.Config, args []string, out io.Writer) (replay.Config, error) {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(out)
	from := fs.String("from", "", "where to start: earliest, or an RFC 3339 time (broker timestamps)")
	to := fs.String("to", "", "where to stop: an RFC 3339 time; default the end offsets seen at the start")
	if err := fs.Parse(args); err != nil {
		return replay.Config{}, err
	}
	if fs.NArg() > 0 {
		return replay.Config{}, fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), usage)
	}
	start, end, err := replay.Parse(*from, *to)
	if err != nil {
		return replay.Config{}, err
	}
	f, isFile := out.(*os.File)
	return replay.Config{
		Kafka: cfg.Kafka, From: start, To: end,
		BatchSize: cfg.BatchSize, BatchLinger: cfg.BatchLinger,
		Progress: out, Terminal: isFile && term.IsTerminal(int(f.Fd())),
	}, nil
}

func writerConfig(cfg config.Config) writer.Config {
	return writer.Config{PoisonTopic: cfg.Kafka.PoisonTopic(), RetryMin: cfg.RetryMin, RetryMax: cfg.RetryMax}
}

type poolStore struct{ pool *pgxpool.Pool }

func (s poolStore) InsertEvents(ctx context.Context, events []pgstore.Event) (int, error) {
	return pgstore.InsertEvents(ctx, s.pool, events)
}

// Run consumes the events topic into the table and serves the ops endpoints
// until ctx ends. The database must be migrated.
func Run(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, logger *slog.Logger) error {
	poison, err := sarama.NewSyncProducer(cfg.Kafka.Brokers, kafka.ProducerSarama("event-writer"))
	if err != nil {
		return fmt.Errorf("poison producer: %w", err)
	}
	defer poison.Close()
	group, err := sarama.NewConsumerGroup(cfg.Kafka.Brokers, cfg.ConsumerGroup,
		consumer.SaramaConfig("event-writer", sarama.OffsetOldest, cfg.BatchSize))
	if err != nil {
		return fmt.Errorf("consumer group: %w", err)
	}
	// Closing leaves the group at once, so the partitions move to the other
	// replicas without waiting for the session to time out.
	defer group.Close()

	w := writer.New(writerConfig(cfg), poolStore{pool}, poison, logger)
	b := &consumer.Batcher{
		Size: cfg.BatchSize, Linger: cfg.BatchLinger,
		Flush: func(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
			res, err := w.Write(ctx, msgs)
			if err == nil {
				logger.Debug("batch written", "messages", len(msgs), "inserted", res.Inserted,
					"duplicates", res.Duplicates, "poison", res.Poison)
			}
			return err
		},
	}

	mux := http.NewServeMux()
	httpserver.Ops(mux, map[string]httpserver.Check{
		"database": pool.Ping,
		"writes":   w.Ready,
		"kafka":    func(ctx context.Context) error { return kafka.Reachable(ctx, cfg.Kafka.Brokers) },
	})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		err := consumer.Run(gctx, group, []string{cfg.Kafka.Topic}, b, logger)
		if err == nil && ctx.Err() == nil {
			err = errors.New("consumer stopped")
		}
		return err
	})
	g.Go(func() error {
		return httpserver.Serve(gctx, cfg.Addr, mux, httpserver.DefaultLimits(), cfg.ShutdownGrace, logger)
	})
	return g.Wait()
}
