// Package writer turns batches of messages of the events topic into
// stripe_events rows, and sets aside what is not an event on the poison
// topic. A batch is done only when it is durable: writes that fail are
// retried with backoff until they succeed or the caller gives up.
package writer

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/event-writer/internal/metrics"
)

// Store persists events; an event already stored is skipped.
type Store interface {
	InsertEvents(ctx context.Context, events []pgstore.Event) (inserted int, err error)
}

// PoisonSender publishes poison messages; sarama.SyncProducer is one.
type PoisonSender interface {
	SendMessages(msgs []*sarama.ProducerMessage) error
}

// Headers a poison message carries besides the original ones.
const (
	HeaderPoisonReason    = "poison_reason"
	HeaderPoisonTopic     = "poison_source_topic"
	HeaderPoisonPartition = "poison_source_partition"
	HeaderPoisonOffset    = "poison_source_offset"
)

// Config is what a Writer needs besides its ports.
type Config struct {
	// PoisonTopic receives messages that are not events. With no PoisonSender
	// (a replay: they were set aside the first time) they are only counted.
	PoisonTopic string
	// RetryMin and RetryMax bound the backoff between failed attempts.
	RetryMin, RetryMax time.Duration
}

func (c *Config) setDefaults() {
	if c.RetryMin <= 0 {
		c.RetryMin = 100 * time.Millisecond
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(5*time.Second, c.RetryMin)
	}
}

// Writer writes batches.
type Writer struct {
	cfg     Config
	store   Store
	poison  PoisonSender
	logger  *slog.Logger
	failing atomic.Pointer[error] // the last error while a write is being retried
}

// New builds a Writer; poison may be nil (see Config.PoisonTopic).
func New(cfg Config, store Store, poison PoisonSender, logger *slog.Logger) *Writer {
	cfg.setDefaults()
	return &Writer{cfg: cfg, store: store, poison: poison, logger: logger}
}

// Result counts what a batch became.
type Result struct {
	Inserted, Duplicates, Poison int
}

// Write makes the batch durable: poison messages published, events stored.
// It retries failures with backoff and returns nil only when everything is
// done, or ctx's error when ctx ends first; then nothing may be acknowledged.
func (w *Writer) Write(ctx context.Context, msgs []*sarama.ConsumerMessage) (Result, error) {
	start := time.Now()
	events := make([]pgstore.Event, 0, len(msgs))
	var poison []*sarama.ProducerMessage
	for _, m := range msgs {
		ev, err := Decode(m)
		if err != nil {
			poison = append(poison, poisonMessage(w.cfg.PoisonTopic, m, err))
			w.logger.Warn("poison message set aside", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
				"poison_topic", w.cfg.PoisonTopic, "reason", err.Error())
			continue
		}
		events = append(events, ev)
	}
	res := Result{Poison: len(poison)}
	if len(poison) > 0 && w.poison != nil {
		if err := w.retry(ctx, "poison", func() error { return w.poison.SendMessages(poison) }); err != nil {
			return Result{}, err
		}
	}
	if len(events) > 0 {
		err := w.retry(ctx, "store", func() error {
			n, err := w.store.InsertEvents(ctx, events)
			res.Inserted = n
			return err
		})
		if err != nil {
			return Result{}, err
		}
	}
	res.Duplicates = len(events) - res.Inserted
	metrics.BatchSize.Observe(float64(len(msgs)))
	metrics.BatchSeconds.Observe(time.Since(start).Seconds())
	metrics.RowsInserted.Add(float64(res.Inserted))
	metrics.DuplicatesSkipped.Add(float64(res.Duplicates))
	metrics.Poison.Add(float64(res.Poison))
	return res, nil
}

// Ready is nil unless writes are failing right now; /readyz asks it.
func (w *Writer) Ready(context.Context) error {
	if err := w.failing.Load(); err != nil {
		return fmt.Errorf("writes failing, retrying: %w", *err)
	}
	return nil
}

func (w *Writer) retry(ctx context.Context, step string, try func() error) error {
	backoff := w.cfg.RetryMin
	for attempt := 1; ; attempt++ {
		err := try()
		if err == nil {
			if attempt > 1 {
				w.logger.Info("write recovered", "step", step, "attempts", attempt)
			}
			w.failing.Store(nil)
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		w.failing.Store(&err)
		metrics.WriteErrors.WithLabelValues(step).Inc()
		// Jitter keeps replicas that lost the database together from
		// hammering it together when it comes back.
		wait := backoff/2 + rand.N(backoff/2+1)
		w.logger.Warn("write failed, retrying", "step", step, "attempt", attempt, "retry_in", wait.String(), "error", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		backoff = min(backoff*2, w.cfg.RetryMax)
	}
}

// Decode reads a message of the events topic into a row.
func Decode(m *sarama.ConsumerMessage) (pgstore.Event, error) {
	env, err := stripeevent.Parse(m.Value)
	if err != nil {
		return pgstore.Event{}, err
	}
	return pgstore.Event{
		Envelope:   env,
		ReceivedAt: kafka.ReceivedAt(headerMap(m.Headers)),
		Payload:    m.Value,
	}, nil
}

func headerMap(hs []*sarama.RecordHeader) map[string]string {
	out := make(map[string]string, len(hs))
	for _, h := range hs {
		out[string(h.Key)] = string(h.Value)
	}
	return out
}

// poisonMessage keeps the key (same partition as its neighbours), the body
// and headers as they came, and says why and where from.
func poisonMessage(topic string, m *sarama.ConsumerMessage, reason error) *sarama.ProducerMessage {
	p := &sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(m.Value), Timestamp: m.Timestamp}
	if m.Key != nil {
		p.Key = sarama.ByteEncoder(m.Key)
	}
	for _, h := range m.Headers {
		p.Headers = append(p.Headers, *h)
	}
	p.Headers = append(p.Headers,
		sarama.RecordHeader{Key: []byte(HeaderPoisonReason), Value: []byte(reason.Error())},
		sarama.RecordHeader{Key: []byte(HeaderPoisonTopic), Value: []byte(m.Topic)},
		sarama.RecordHeader{Key: []byte(HeaderPoisonPartition), Value: []byte(strconv.Itoa(int(m.Partition)))},
		sarama.RecordHeader{Key: []byte(HeaderPoisonOffset), Value: []byte(strconv.FormatInt(m.Offset, 10))},
	)
	return p
}
