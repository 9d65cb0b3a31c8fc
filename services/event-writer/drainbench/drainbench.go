// Package drainbench measures how fast event-writer drains a backlog: N
// realistic events waiting in a topic, written by the writer's own consumer
// and batch path, against the ceiling of one bare COPY of the same rows into
// an identical table. `make bench` calls Run (or the event-writer-bench
// command); figures are machine- and load-dependent, so both come from the
// same run.
package drainbench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/loadgen"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
)

// Config says what to measure where.
type Config struct {
	Brokers []string // a Kafka-protocol broker; a fresh topic is made on it
	// ServerURL is a PostgreSQL server (any database on it); the bench makes
	// a database of its own there and drops it at the end.
	ServerURL    string
	Events       int          // default 100,000
	BatchSize    int          // the writer's EVENT_WRITER_BATCH_SIZE; default 1000
	Transactions int          // the writer's EVENT_WRITER_TRANSACTIONS
	Logger       *slog.Logger // nil is silent
}

// Result is one run's figures. Rates are rows per second.
type Result struct {
	Events       int     `json:"events"`
	Bytes        int64   `json:"bytes"` // event bodies
	CopySeconds  float64 `json:"copy_seconds"`
	CopyRate     float64 `json:"copy_rows_per_second"`
	DrainSeconds float64 `json:"drain_seconds"`
	DrainRate    float64 `json:"drain_rows_per_second"`
	Ratio        float64 `json:"ratio"` // DrainRate / CopyRate; the target is ≥ 0.6
}

// String is the result as the lines a report prints.
func (r Result) String() string {
	return fmt.Sprintf("event-writer drain of %d events (%.0f MB): bare COPY %.0f rows/s (%.2fs), writer %.0f rows/s (%.2fs), ratio %.2f (target ≥ 0.60)",
		r.Events, float64(r.Bytes)/1e6, r.CopyRate, r.CopySeconds, r.DrainRate, r.DrainSeconds, r.Ratio)
}

func (c *Config) setDefaults() {
	if c.Events <= 0 {
		c.Events = 100000
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
}

// copyTable is the bare COPY's target: stripe_events' twin, indexes included.
const copyTable = "stripe_events_copy"

// Run publishes the events, copies them into the twin table, then drains
// them from the topic with the writer, timing both.
//
// The drain is timed from the first message the writer's handler gets
// (joining a group is a fixed cost, not throughput) until the last row is
// committed. The bare COPY gets its rows prebuilt, the writer decodes every
// message: the ratio is, if anything, unfair to the writer.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	log := cfg.Logger
	url, drop, err := database(ctx, cfg.ServerURL)
	if err != nil {
		return Result{}, err
	}
	defer drop()
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return Result{}, err
	}
	defer pool.Close()
	if _, err := pgstore.Migrate(ctx, pool); err != nil {
		return Result{}, err
	}
	if _, err := pool.Exec(ctx, "CREATE TABLE "+copyTable+" (LIKE stripe_events INCLUDING ALL)"); err != nil {
		return Result{}, err
	}

	log.Info("generating events", "events", cfg.Events)
	events := loadgen.Seeded(loadgen.RandomSeed()).Events(cfg.Events)
	res := Result{Events: cfg.Events}
	rows := make([]pgstore.Event, len(events))
	now := time.Now()
	for i, e := range events {
		rows[i] = pgstore.Event{Envelope: e.Envelope, ReceivedAt: now, Payload: e.Body}
		res.Bytes += int64(len(e.Body))
	}

	topic := "bench.drain." + devstack.RandomHex(4)
	log.Info("publishing the backlog", "topic", topic)
	prod, err := loadgen.NewProducer(cfg.Brokers)
	if err != nil {
		return Result{}, err
	}
	err = prod.SendEvents(ctx, topic, events)
	prod.Close()
	if err != nil {
		return Result{}, fmt.Errorf("publish: %w", err)
	}
	events = nil

	log.Info("bare COPY")
	start := time.Now()
	if _, err := pgstore.CopyEvents(ctx, pool, copyTable, rows); err != nil {
		return Result{}, fmt.Errorf("copy: %w", err)
	}
	res.CopySeconds = time.Since(start).Seconds()
	rows = nil

	log.Info("draining with the writer")
	d, err := drain(ctx, cfg, pool, topic)
	if err != nil {
		return Result{}, err
	}
	var stored int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM stripe_events").Scan(&stored); err != nil {
		return Result{}, err
	}
	if stored != cfg.Events {
		return Result{}, fmt.Errorf("drain stored %d rows, want %d", stored, cfg.Events)
	}
	res.DrainSeconds = d.Seconds()
	res.CopyRate = float64(cfg.Events) / res.CopySeconds
	res.DrainRate = float64(cfg.Events) / res.DrainSeconds
	res.Ratio = res.DrainRate / res.CopyRate
	return res, nil
}

// drain runs the live writer's Router, Subscriber and handler on topic
// until every event is stored, and times it from the first message handled.
func drain(ctx context.Context, cfg Config, pool *pgxpool.Pool, topic string) (time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wlog := logging.Watermill(cfg.Logger)
	w := writer.New(writer.Config{MaxBatch: cfg.BatchSize, Transactions: cfg.Transactions}, store{pool}, cfg.Logger)
	go w.Run(ctx)
	group := kafka.NewGroupName("event-writer-bench")
	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{Brokers: cfg.Brokers, ClientID: "event-writer-bench", Group: group}, wlog)
	if err != nil {
		return 0, err
	}
	router, err := message.NewRouter(message.RouterConfig{}, wlog)
	if err != nil {
		return 0, err
	}
	var (
		once    sync.Once
		started time.Time
		written atomic.Int64
		took    time.Duration
	)
	// Outermost: counts what the writer's handler acked.
	router.AddMiddleware(func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			once.Do(func() { started = time.Now() })
			out, err := h(msg)
			if err == nil && written.Add(1) == int64(cfg.Events) {
				took = time.Since(started)
				cancel()
			}
			return out, err
		}
	})
	noPoison := func(h message.HandlerFunc) message.HandlerFunc { return h } // every event is valid
	w.Route(router, topic, sub, noPoison, writer.RetryConfig{Min: 100 * time.Millisecond, Max: time.Second})
	if err := router.Run(ctx); err != nil {
		return 0, err
	}
	if took == 0 {
		return 0, errors.Join(ctx.Err(), fmt.Errorf("drain stopped after %d of %d events", written.Load(), cfg.Events))
	}
	if a, err := kafka.NewAdmin(cfg.Brokers, "event-writer-bench"); err == nil {
		_ = a.DeleteGroup(group)
		a.Close()
	}
	return took, nil
}

type store struct{ pool *pgxpool.Pool }

func (s store) InsertEvents(ctx context.Context, events []pgstore.Event) (pgstore.Stored, error) {
	return pgstore.InsertEvents(ctx, s.pool, events)
}

// database creates a database of the bench's own on the server of serverURL.
func database(ctx context.Context, serverURL string) (string, func(), error) {
	cfg, err := pgx.ParseConfig(serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("server URL: %w", err)
	}
	name := "stripeline_bench_" + devstack.RandomHex(4)
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
	if err := pgstore.EnsureDatabase(ctx, url); err != nil {
		return "", nil, err
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(dctx, cfg)
		if err != nil {
			return
		}
		defer conn.Close(dctx)
		_, _ = conn.Exec(dctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	}
	return url, drop, nil
}
