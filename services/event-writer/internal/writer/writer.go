// Package writer is event-writer's handler of the events topic: each message
// becomes a stripe_events row, and the messages in flight together (one per
// partition, from the watermill Subscriber) share one transaction (group
// commit). A message returns from Handle only once its row is committed, so
// the Subscriber acks, and its offset is committed, only after that.
//
// What can never be stored comes back as a kafka.PoisonError, for
// kafka.PoisonQueue to set aside; every other failure (the database away)
// is for watermill's Retry middleware to try again, for as long as it lasts.
package writer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/services/event-writer/internal/metrics"
)

// Store persists events (pgstore.InsertEvents on a pool is one).
type Store interface {
	InsertEvents(ctx context.Context, events []pgstore.Event) (pgstore.Stored, error)
}

// Config is what a Writer needs besides its ports.
type Config struct {
	// MaxBatch is the most events one transaction takes; the messages in
	// flight are at most one per partition, so it rarely binds.
	MaxBatch int
	// Transactions is how many transactions may run at once; a message
	// that comes while they all run waits for the next one.
	Transactions int
	// Metrics are where the writer counts; nil counts on a registry of its
	// own that nothing serves (benchmarks, tests).
	Metrics *metrics.Metrics
	// Tracer, when set, records each event's insert as a span of the trace
	// its message carries (docs/design.md, "Tracing"); nil records none.
	Tracer trace.Tracer
}

// Writer stores events in group-committed transactions. Run must be
// running for Handle to return.
type Writer struct {
	cfg     Config
	store   Store
	logger  *slog.Logger
	in      chan *pending
	failing atomic.Pointer[error] // the last write error, until a write succeeds
}

type pending struct {
	row  pgstore.Event
	done chan error // buffered: the committer never waits on a handler
}

// New builds a Writer.
func New(cfg Config, store Store, logger *slog.Logger) *Writer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Transactions <= 0 {
		cfg.Transactions = 1
	}
	if cfg.Metrics == nil {
		cfg.Metrics, _ = metrics.NewMetrics(prometheus.NewRegistry()) // a fresh registry never conflicts
	}
	return &Writer{cfg: cfg, store: store, logger: logger, in: make(chan *pending, cfg.MaxBatch)}
}

// Handle stores one message of the events topic; it is the Router's handler.
// It returns nil once the row is committed (or was already there), a
// kafka.PoisonError for a message that can never be stored, and any other
// error when the write failed and may be tried again.
func (w *Writer) Handle(msg *message.Message) error {
	ev, err := kafka.DecodeEvent(msg)
	if err != nil {
		w.cfg.Metrics.Poison.Inc()
		return kafka.Poison(kafka.ReasonNotAnEvent, err)
	}
	ctx, span := w.startSpan(msg, ev)
	defer span.End()
	p := &pending{
		row:  pgstore.Event{Envelope: ev.Envelope, ReceivedAt: ev.ReceivedAt, Payload: ev.Body},
		done: make(chan error, 1),
	}
	select {
	case w.in <- p:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-p.done:
		if kafka.IsPoison(err) {
			w.cfg.Metrics.Poison.Inc()
			w.logger.WarnContext(ctx, "event cannot be stored", "event_id", ev.ID, "partition", ev.Partition, "offset", ev.Offset, "error", err)
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
		}
		return err
	case <-ctx.Done():
		// The row may still be committed; the message is not acked, so it
		// comes again and is then skipped as a duplicate.
		return ctx.Err()
	}
}

// startSpan starts the span of ev's insert, a child of the consumer's span
// its message carries: from the hand-over to the committer to the commit,
// the wait for a transaction included. Without a Tracer it is a no-op span
// on msg's context.
func (w *Writer) startSpan(msg *message.Message, ev kafka.Event) (context.Context, trace.Span) {
	ctx := msg.Context()
	if w.cfg.Tracer == nil {
		return ctx, trace.SpanFromContext(context.Background()) // a no-op span
	}
	return w.cfg.Tracer.Start(tracing.Extract(ctx, msg.Metadata), "stripe_events insert",
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "postgresql"),
			attribute.String("stripe.event_id", ev.ID),
			attribute.String("stripe.object_id", ev.ObjectID),
			attribute.Int("messaging.kafka.partition", int(ev.Partition)),
			attribute.Int64("messaging.kafka.offset", ev.Offset),
		))
}

// Run commits what Handle hands it until ctx ends.
func (w *Writer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.cfg.Transactions {
		wg.Go(func() { w.commitLoop(ctx) })
	}
	wg.Wait()
	return nil
}

func (w *Writer) commitLoop(ctx context.Context) {
	for {
		var batch []*pending
		select {
		case <-ctx.Done():
			return
		case p := <-w.in:
			batch = append(batch, p)
		}
		batch = w.gather(batch)
		w.commit(ctx, batch)
	}
}

// gather adds to batch what is waiting. It does not wait for more: with one
// message in flight per partition, what is not there yet is behind this
// very transaction.
func (w *Writer) gather(batch []*pending) []*pending {
	for len(batch) < w.cfg.MaxBatch {
		select {
		case p := <-w.in:
			batch = append(batch, p)
		default:
			return batch
		}
	}
	return batch
}

func (w *Writer) commit(ctx context.Context, batch []*pending) {
	start := time.Now()
	rows := make([]pgstore.Event, len(batch))
	for i, p := range batch {
		rows[i] = p.row
	}
	st, err := w.store.InsertEvents(ctx, rows)
	if err != nil {
		w.failing.Store(&err)
		w.cfg.Metrics.WriteErrors.WithLabelValues("store").Inc()
		w.logger.Warn("write failed; the messages will be retried", "events", len(batch), "error", err)
		for _, p := range batch {
			p.done <- fmt.Errorf("store events: %w", err)
		}
		return
	}
	if w.failing.Swap(nil) != nil {
		w.logger.Info("writes recovered")
	}
	w.cfg.Metrics.BatchSize.Observe(float64(len(batch)))
	w.cfg.Metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	w.cfg.Metrics.RowsInserted.Add(float64(st.Inserted))
	w.cfg.Metrics.RowsRaw.Add(float64(st.Raw))
	w.cfg.Metrics.DuplicatesSkipped.Add(float64(st.Duplicates))
	if st.Raw > 0 {
		w.logger.Warn("events stored with their raw body: PostgreSQL's jsonb refused it", "events", st.Raw)
	}
	for i, p := range batch {
		if refused, ok := st.Refused[i]; ok {
			p.done <- kafka.Poison(kafka.ReasonUnstorable, refused)
			continue
		}
		p.done <- nil
	}
}

// Ready is nil unless the last write failed; /readyz asks it.
func (w *Writer) Ready(context.Context) error {
	if err := w.failing.Load(); err != nil {
		return fmt.Errorf("writes failing, retrying: %w", *err)
	}
	return nil
}

// RetryConfig bounds the backoff between attempts of a failed write.
type RetryConfig struct {
	Min, Max time.Duration
}

// Middleware is what the writer's handler runs in, outermost first: poison
// sets aside what can never be stored (kafka.PoisonQueue, or a replay's
// counter), watermill's Retry tries every other failure again with backoff
// for as long as it lasts, and watermill's Recoverer turns a panic into an
// error (poison).
func Middleware(poison message.HandlerMiddleware, retry RetryConfig) []message.HandlerMiddleware {
	return []message.HandlerMiddleware{
		poison,
		middleware.Retry{
			MaxRetries:          math.MaxInt32, // a database outage is waited out, never poisoned
			InitialInterval:     retry.Min,
			MaxInterval:         retry.Max,
			Multiplier:          2,
			RandomizationFactor: 0.5, // replicas that lost the database together do not come back together
			ShouldRetry: func(p middleware.RetryParams) bool {
				var panicked middleware.RecoveredPanicError
				return !kafka.IsPoison(p.Err) && !errors.As(p.Err, &panicked)
			},
		}.Middleware,
		middleware.Recoverer,
	}
}

// Route adds the writer's handler to router, on the messages of topic from
// sub, in Middleware(poison, retry).
func (w *Writer) Route(router *message.Router, topic string, sub message.Subscriber, poison message.HandlerMiddleware, retry RetryConfig) {
	router.AddNoPublisherHandler("event-writer", topic, sub, w.Handle).AddMiddleware(Middleware(poison, retry)...)
}
