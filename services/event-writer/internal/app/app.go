// Package app wires event-writer's parts and runs them until the context ends.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/pkg/summary"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/services/event-writer/internal/backfill"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/services/event-writer/internal/metrics"
	"github.com/stripeline/stripeline/services/event-writer/internal/progress"
	"github.com/stripeline/stripeline/services/event-writer/internal/redrive"
	"github.com/stripeline/stripeline/services/event-writer/internal/replay"
	"github.com/stripeline/stripeline/services/event-writer/internal/retention"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
)

const usage = `usage:
  event-writer                      consume the events topic into the table (the default)
  event-writer migrate              apply the database migrations and exit
  event-writer replay --from earliest|<RFC 3339> [--to <RFC 3339>]
                                    re-read the topic into the table, then exit
  event-writer redrive [--reason not_an_event|unstorable|handler_panic] [--from <RFC 3339>] [--dry-run]
                                    send the poison topic's messages back to the events topic, then exit
  event-writer backfill --since <duration, e.g. 72h> [--dry-run]
                                    publish the events of Stripe's list that stripe_events lacks, then exit
                                    (STRIPE_EVENTS_KEY: a restricted key with Events read)`

// Usage is the commands' usage, for -h.
func Usage() string { return usage }

// Command runs the one-shot command in args ("migrate", "replay",
// "redrive") and exits; with no args it is Run.
func Command(ctx context.Context, cfg config.Config, args []string, logOut io.Writer) error {
	if len(args) == 0 {
		return Run(ctx, cfg, logOut)
	}
	logger, err := service.Logger(cfg, cfg.Log, "event-writer", logOut)
	if err != nil {
		return err
	}
	cmd, args := args[0], args[1:]
	var replayCfg replay.Config
	switch cmd {
	case "migrate":
		if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q\n%s", args, usage)
		}
	case "replay":
		if replayCfg, err = replayFlags(cfg, args, logOut); err != nil {
			return err
		}
	case "redrive":
		rc, err := redriveFlags(cfg, args, logOut)
		if err != nil {
			return err
		}
		return runRedrive(ctx, rc, logger)
	case "backfill":
		bc, err := backfillFlags(cfg, args, logOut)
		if err != nil {
			return err
		}
		return runBackfill(ctx, cfg, bc, logger)
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
	if cmd == "migrate" {
		return nil
	}
	// A one-shot command serves no /metrics: the writer counts on a
	// registry of its own.
	w := writer.New(writerConfig(cfg, nil), poolStore{pool}, logger)
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go w.Run(wctx)
	st, err := replay.Run(ctx, replayCfg, w, logger)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	logger.Info("replay done", "events", st.Events, "poison_skipped", st.Poison, "duration", st.Duration.Round(1e6).String())
	return nil
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
		Kafka: cfg.Kafka, From: start, To: end, Retry: retryConfig(cfg),
		Progress: out, Terminal: isFile && term.IsTerminal(int(f.Fd())),
	}, nil
}

func backfillFlags(cfg config.Config, args []string, out io.Writer) (backfill.Config, error) {
	fs := flag.NewFlagSet("backfill", flag.ContinueOnError)
	fs.SetOutput(out)
	since := fs.Duration("since", 72*time.Hour, "how far back to look in Stripe's event list (at most 720h: Stripe keeps 30 days)")
	dry := fs.Bool("dry-run", false, "count what is missing, publish nothing")
	if err := fs.Parse(args); err != nil {
		return backfill.Config{}, err
	}
	if fs.NArg() > 0 {
		return backfill.Config{}, fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), usage)
	}
	if *since <= 0 || *since > 720*time.Hour {
		return backfill.Config{}, fmt.Errorf("--since %s: want a positive duration of at most 720h (Stripe keeps 30 days of events)", *since)
	}
	if err := cfg.CheckStripeEventsKey(); err != nil {
		return backfill.Config{}, err
	}
	f, isFile := out.(*os.File)
	return backfill.Config{
		Since: time.Now().Add(-*since), Topic: cfg.Kafka.Topic, DryRun: *dry,
		Progress: progress.Config{Name: "backfill", Out: out, Terminal: isFile && term.IsTerminal(int(f.Fd()))},
	}, nil
}

// stripeTimeout bounds one request of the backfill to Stripe's event list.
const stripeTimeout = 30 * time.Second

// runBackfill publishes, through the events topic, the events of Stripe's
// list that stripe_events lacks (package backfill).
func runBackfill(ctx context.Context, cfg config.Config, bc backfill.Config, logger *slog.Logger) error {
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: cfg.Kafka.Brokers, ClientID: "event-writer-backfill"}, logging.Watermill(logger))
	if err != nil {
		return err
	}
	defer pub.Close()
	st, err := backfill.Run(ctx, bc, backfill.NewStripe(cfg.StripeEventsKey, cfg.StripeAPIBase, stripeTimeout), storedIDs(pool), pub, logger)
	logger.Info("backfill done", "listed", st.Listed, "already_stored", st.Stored, "published", st.Published, "invalid", st.Invalid, "dry_run", bc.DryRun)
	if err != nil {
		return fmt.Errorf("backfill: %w", err)
	}
	return nil
}

// storedIDs is backfill's question to stripe_events.
func storedIDs(pool *pgxpool.Pool) backfill.Known {
	return func(ctx context.Context, ids []string) (map[string]bool, error) {
		return pgstore.StoredEventIDs(ctx, pool, ids)
	}
}

// runReconcile is the periodic backfill (EVENT_WRITER_RECONCILE_EVERY, off
// at 0), in one replica at a time, publishing through pub.
func runReconcile(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, pub backfill.Publisher, m *metrics.Metrics, logger *slog.Logger) error {
	if cfg.ReconcileEvery <= 0 {
		return nil
	}
	lock := func(ctx context.Context, fn func(context.Context) error) (bool, error) {
		return pgstore.TryLocked(ctx, pool, pgstore.ReconcileLock, fn)
	}
	return backfill.Reconcile(ctx, backfill.ReconcileConfig{Every: cfg.ReconcileEvery, Window: cfg.ReconcileWindow, Topic: cfg.Kafka.Topic},
		backfill.NewStripe(cfg.StripeEventsKey, cfg.StripeAPIBase, stripeTimeout), storedIDs(pool), pub, lock,
		backfill.Metrics{Found: m.ReconcileFound, Runs: m.ReconcileRuns}, logger.With("task", "reconcile"))
}

func redriveFlags(cfg config.Config, args []string, out io.Writer) (redrive.Config, error) {
	fs := flag.NewFlagSet("redrive", flag.ContinueOnError)
	fs.SetOutput(out)
	reason := fs.String("reason", "", "send back only the messages of this reason: "+strings.Join(kafka.Reasons, ", "))
	from := fs.String("from", "", "start at the first poison message at or after this RFC 3339 time; default the oldest kept")
	dry := fs.Bool("dry-run", false, "count what would be sent back, send nothing")
	if err := fs.Parse(args); err != nil {
		return redrive.Config{}, err
	}
	if fs.NArg() > 0 {
		return redrive.Config{}, fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), usage)
	}
	rc := redrive.Config{Kafka: cfg.Kafka, Reason: *reason, DryRun: *dry}
	if rc.Reason != "" && !slices.Contains(kafka.Reasons, rc.Reason) {
		return rc, fmt.Errorf("--reason %q: want one of %s", rc.Reason, strings.Join(kafka.Reasons, ", "))
	}
	if *from != "" {
		t, err := time.Parse(time.RFC3339Nano, *from)
		if err != nil {
			return rc, fmt.Errorf("--from %q: want an RFC 3339 time like 2024-05-01T00:00:00Z", *from)
		}
		rc.From = t
	}
	return rc, nil
}

func runRedrive(ctx context.Context, rc redrive.Config, logger *slog.Logger) error {
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: rc.Kafka.Brokers, ClientID: "event-writer-redrive"}, logging.Watermill(logger))
	if err != nil {
		return err
	}
	defer pub.Close()
	st, err := redrive.Run(ctx, rc, pub, logger)
	if err != nil {
		return fmt.Errorf("redrive: %w", err)
	}
	logger.Info("redrive done", "read", st.Read, "sent_back", st.Sent, "skipped", st.Skipped, "dry_run", rc.DryRun)
	return nil
}

func writerConfig(cfg config.Config, m *metrics.Metrics) writer.Config {
	return writer.Config{MaxBatch: cfg.BatchSize, Transactions: cfg.Transactions, Metrics: m}
}

func retryConfig(cfg config.Config) writer.RetryConfig {
	return writer.RetryConfig{Min: cfg.RetryMin, Max: cfg.RetryMax}
}

type poolStore struct{ pool *pgxpool.Pool }

func (s poolStore) InsertEvents(ctx context.Context, events []pgstore.Event) (pgstore.Stored, error) {
	return pgstore.InsertEvents(ctx, s.pool, events)
}

// Run is the service: it consumes the events topic into the table and
// serves the ops endpoints until ctx ends. The ops listener opens first and
// answers /readyz 503 while the writer waits for its database (and applies
// the migrations) and its broker, each wait logged once and retried.
//
// A watermill Router runs the writer's handler on the messages of a
// watermill-kafka Subscriber of the consumer group: one message in flight
// per partition, acked (its offset committed) once its row is.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := service.Logger(cfg, cfg.Log, "event-writer", logOut)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	tr, err := tracing.New(ctx, cfg.Tracing, "event-writer")
	if err != nil {
		return err
	}
	defer tracing.ShutdownWithin(tr, cfg.ShutdownGrace, logger)
	reg := httpserver.NewRegistry()
	m, err := metrics.NewMetrics(reg)
	if err != nil {
		return err
	}
	wc := writerConfig(cfg, m)
	wc.Tracer = tr.Tracer("event-writer")
	w := writer.New(wc, poolStore{pool}, logger)

	g, gctx := errgroup.WithContext(ctx)
	// EVENT_WRITER_ADDR is the ops listener (the writer has no product
	// routes). Readiness dials the brokers every readyInterval in the
	// background, not once per /readyz; "consumer" holds until the Router runs.
	var consuming atomic.Bool
	ops := httpserver.OpsHandler(map[string]httpserver.Check{
		"database": pool.Ping,
		"writes":   w.Ready,
		"consumer": func(context.Context) error {
			if !consuming.Load() {
				return errors.New("not consuming yet")
			}
			return nil
		},
		"kafka": httpserver.Polled(gctx, readyInterval, readyTimeout, func(ctx context.Context) error {
			return kafka.Reachable(ctx, cfg.Kafka.Brokers)
		}),
	}, reg, logger)
	g.Go(func() error {
		return httpserver.Serve(gctx, cfg.Addr, ops, cfg.Limits(), cfg.ShutdownGrace, logger.With("listener", "ops"))
	})
	g.Go(func() error {
		if err := service.WaitFor(gctx, logger, "database", func(ctx context.Context) error {
			n, err := pgstore.Migrate(ctx, pool)
			if err == nil {
				logger.Info("migrations applied", "count", n)
			}
			return err
		}); err != nil {
			return nil // ctx ended while waiting: a clean stop
		}
		if err := service.WaitFor(gctx, logger, "kafka", func(ctx context.Context) error {
			return kafka.Reachable(ctx, cfg.Kafka.Brokers)
		}); err != nil {
			return nil
		}
		return consume(gctx, cfg, tr, w, m, reg, pool, logger, func() { consuming.Store(true) })
	})
	err = g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// consume runs the writer's Router, its lag poller, retention and minute
// summary until ctx ends, and calls running once the Router runs. The
// database is migrated and the broker answered.
func consume(ctx context.Context, cfg config.Config, tr *tracing.Tracing, w *writer.Writer, m *metrics.Metrics, reg prometheus.Gatherer, pool *pgxpool.Pool, logger *slog.Logger, running func()) error {
	wlog := logging.Watermill(logger)
	poison, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: cfg.Kafka.Brokers, ClientID: "event-writer", Tracing: tr.Provider()}, wlog)
	if err != nil {
		return fmt.Errorf("poison publisher: %w", err)
	}
	defer poison.Close()
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers: cfg.Kafka.Brokers, ClientID: "event-writer", Group: cfg.ConsumerGroup, Tracing: tr.Provider(),
	}, wlog)
	if err != nil {
		return err
	}
	admin, err := kafka.NewAdmin(cfg.Kafka.Brokers, "event-writer-lag")
	if err != nil {
		return err
	}
	defer admin.Close()
	pq, err := kafka.PoisonQueue(poison, cfg.Kafka.PoisonTopic())
	if err != nil {
		return err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.ShutdownGrace}, wlog)
	if err != nil {
		return err
	}
	w.Route(router, cfg.Kafka.Topic, sub, pq, retryConfig(cfg))

	g, gctx := errgroup.WithContext(ctx)
	wctx, stopWriter := context.WithCancel(context.WithoutCancel(gctx))
	defer stopWriter()
	go w.Run(wctx) // outlives the router, which waits for its handlers
	go func() {
		select {
		case <-router.Running():
			running()
		case <-gctx.Done():
		}
	}()
	g.Go(func() error {
		err := router.Run(gctx)
		if err == nil && ctx.Err() == nil {
			err = errors.New("router stopped")
		}
		return err
	})
	g.Go(func() error { return pollLag(gctx, admin, cfg.ConsumerGroup, cfg.Kafka.Topic, m.ConsumerLag, logger) })
	g.Go(func() error { return runRetention(gctx, cfg, pool, m.RetentionDeleted, logger) })
	// The poison publisher is ingest's kind of publisher: the reconcile
	// publishes the events it finds missing through it.
	g.Go(func() error { return runReconcile(gctx, cfg, pool, poison, m, logger) })
	g.Go(func() error {
		summary.Run(gctx, logger, reg, summaryEvery, "event_writer_rows_inserted_total", "event_writer_rows_raw_total",
			"event_writer_duplicates_skipped_total", "event_writer_poison_total", "event_writer_write_errors_total")
		return nil
	})
	return g.Wait()
}

// readyInterval is how often the readiness check dials the brokers, and
// readyTimeout bounds one round.
const (
	readyInterval = 5 * time.Second
	readyTimeout  = 2 * time.Second
)

// summaryEvery is how often the writer logs what it stored (pkg/summary).
const summaryEvery = time.Minute

// lagInterval is how often the lag metric is refreshed: watermill's message
// context carries no high-water mark, so the end offsets are polled.
const lagInterval = 5 * time.Second

// pollLag sets the lag gauge of each partition until ctx ends.
func pollLag(ctx context.Context, admin *kafka.Admin, group, topic string, lagGauge *prometheus.GaugeVec, logger *slog.Logger) error {
	t := time.NewTicker(lagInterval)
	defer t.Stop()
	for {
		if lags, err := admin.Lag(group, topic); err != nil {
			logger.Debug("consumer lag not known", "error", err)
		} else {
			for p, lag := range lags {
				lagGauge.WithLabelValues(topic, strconv.Itoa(int(p))).Set(float64(lag))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// runRetention deletes the events older than EVENT_WRITER_RETENTION, hourly;
// with the setting 0 (the default) it returns at once. Every replica runs
// it: the deletes are idempotent and in small batches.
func runRetention(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, deleted prometheus.Counter, logger *slog.Logger) error {
	del := func(ctx context.Context, before time.Time, batch int) (int64, error) {
		return pgstore.DeleteEventsBefore(ctx, pool, before, batch)
	}
	return retention.Run(ctx, retention.Config{MaxAge: cfg.Retention, Interval: retention.DefaultInterval, Batch: retention.DefaultBatch},
		del, deleted, logger)
}
