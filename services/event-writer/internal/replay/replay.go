// Package replay re-reads the events topic into the table: every partition
// from a start (the earliest offset, or the first message at or after a
// time) up to the end offsets seen when the replay began, or up to a time.
// It runs the live writer's handler (writer.Writer.Handle, with its Retry
// and Recoverer) over a watermill Subscriber of a consumer group of its own,
// started at offsets found by time and deleted at the end. Rows already
// stored are skipped, so a replay can run any time, beside the running
// writers, and again.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/services/event-writer/internal/progress"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
)

// Config says what to replay.
type Config struct {
	Kafka kafka.Config
	// From is the start: the zero time means the earliest offset.
	From time.Time
	// To, when set, ends each partition at its first message after To
	// (broker timestamps); otherwise at the end offsets seen at the start.
	To time.Time

	Retry writer.RetryConfig

	// Progress gets a progress bar when Terminal, else a line every Interval.
	Progress io.Writer
	Terminal bool
	Interval time.Duration
}

// Parse reads the --from and --to arguments: "earliest" or RFC 3339.
func Parse(from, to string) (start, end time.Time, err error) {
	switch from {
	case "":
		return start, end, errors.New("--from is required: earliest or an RFC 3339 time")
	case "earliest":
	default:
		if start, err = time.Parse(time.RFC3339Nano, from); err != nil {
			return start, end, fmt.Errorf("--from %q: want earliest or an RFC 3339 time like 2024-05-01T00:00:00Z", from)
		}
	}
	if to != "" {
		if end, err = time.Parse(time.RFC3339Nano, to); err != nil {
			return start, end, fmt.Errorf("--to %q: want an RFC 3339 time like 2024-05-01T00:00:00Z", to)
		}
		if !start.IsZero() && !end.After(start) {
			return start, end, fmt.Errorf("--to %s is not after --from %s", to, from)
		}
	}
	return start, end, nil
}

// Stats is what a replay did.
type Stats struct {
	Events   int64 // messages read and handled
	Poison   int64 // messages that can never be stored (skipped: they were set aside the first time)
	Duration time.Duration
}

// Run replays into w, whose Run must be going, and returns when every
// partition reached its end.
func Run(ctx context.Context, cfg Config, w *writer.Writer, logger *slog.Logger) (Stats, error) {
	started := time.Now()
	group := kafka.NewGroupName("event-writer-replay")
	admin, err := kafka.NewAdmin(cfg.Kafka.Brokers, group)
	if err != nil {
		return Stats{}, fmt.Errorf("connect to kafka: %w", err)
	}
	span, err := admin.PlanSpan(cfg.Kafka.Topic, cfg.From, cfg.To)
	admin.Close()
	if err != nil {
		return Stats{}, err
	}
	total := span.Total()
	logger.Info("replay starting", "topic", cfg.Kafka.Topic, "group", group, "partitions", len(span.End),
		"events", total, "from", describe(cfg.From, "earliest"), "to", describe(cfg.To, "end offsets at start"))

	var st Stats
	prog := progress.New(progress.Config{Name: "replay", Out: cfg.Progress, Terminal: cfg.Terminal, Interval: cfg.Interval}, total, logger)
	handle := func(msg *message.Message) error {
		if err := w.Handle(msg); err != nil {
			return err
		}
		atomic.AddInt64(&st.Events, 1)
		prog.Add(1)
		return nil
	}
	// What can never be stored was set aside when it first came: count it
	// and go on.
	skipPoison := func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			out, err := h(msg)
			if kafka.IsPoison(err) {
				atomic.AddInt64(&st.Events, 1)
				atomic.AddInt64(&st.Poison, 1)
				prog.Add(1)
				return out, nil
			}
			return out, err
		}
	}
	err = kafka.ReadSpan(ctx, kafka.SubscriberConfig{Brokers: cfg.Kafka.Brokers, ClientID: "event-writer-replay", Group: group},
		span, handle, logging.Watermill(logger), writer.Middleware(skipPoison, cfg.Retry)...)
	prog.Close()
	if err != nil {
		return st, err
	}
	st.Duration = time.Since(started)
	return st, nil
}

func describe(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.Format(time.RFC3339)
}
