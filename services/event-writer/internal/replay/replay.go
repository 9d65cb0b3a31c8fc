// Package replay re-reads the events topic into the table: every partition
// from a start (the earliest offset, or the first message at or after a
// time) up to the end offsets seen when the replay began, or up to a time.
// Rows already stored are skipped, so a replay can run any time, beside the
// running writers, and again.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/services/event-writer/internal/consumer"
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

	BatchSize   int
	BatchLinger time.Duration

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
	Events     int64 // messages read and written
	Inserted   int64 // rows that were missing
	Duplicates int64 // rows already there
	Poison     int64 // messages that are not events (skipped, not sent again)
	Duration   time.Duration
}

// Run replays into w and returns when every partition reached its end.
func Run(ctx context.Context, cfg Config, w *writer.Writer, logger *slog.Logger) (Stats, error) {
	started := time.Now()
	group := fmt.Sprintf("event-writer-replay-%s-%s", started.UTC().Format("20060102T150405Z"), devstack.RandomHex(3))
	sc := consumer.SaramaConfig(group, sarama.OffsetOldest, cfg.BatchSize)
	client, err := sarama.NewClient(cfg.Kafka.Brokers, sc)
	if err != nil {
		return Stats{}, fmt.Errorf("connect to kafka: %w", err)
	}
	defer client.Close()

	r, err := plan(client, cfg)
	if err != nil {
		return Stats{}, err
	}
	logger.Info("replay starting", "topic", cfg.Kafka.Topic, "group", group, "partitions", len(r.end),
		"events", r.total, "from", describe(cfg.From, "earliest"), "to", describe(cfg.To, "end offsets at start"))

	var st Stats
	if r.total > 0 {
		progress := newProgress(cfg, r.total, logger)
		cg, err := sarama.NewConsumerGroupFromClient(group, client)
		if err != nil {
			return Stats{}, err
		}
		rctx, cancel := context.WithCancel(ctx)
		r.allDone = cancel
		b := &consumer.Batcher{
			Size: cfg.BatchSize, Linger: cfg.BatchLinger, Bound: r,
			OnSetup: func(sess sarama.ConsumerGroupSession) error {
				// The group is new: marking moves it from "no offset" to the
				// start (ResetOffset would not move it forward); after a
				// rebalance it is behind what was marked and changes nothing.
				for _, p := range sess.Claims()[cfg.Kafka.Topic] {
					sess.MarkOffset(cfg.Kafka.Topic, p, r.start[p], "")
				}
				return nil
			},
			Flush: func(ctx context.Context, msgs []*sarama.ConsumerMessage) error {
				res, err := w.Write(ctx, msgs)
				if err != nil {
					return err
				}
				atomic.AddInt64(&st.Events, int64(len(msgs)))
				atomic.AddInt64(&st.Inserted, int64(res.Inserted))
				atomic.AddInt64(&st.Duplicates, int64(res.Duplicates))
				atomic.AddInt64(&st.Poison, int64(res.Poison))
				progress.add(len(msgs))
				return nil
			},
		}
		err = consumer.Run(rctx, cg, []string{cfg.Kafka.Topic}, b, logger)
		cancel()
		progress.close()
		_ = cg.Close()
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			return st, err
		}
		// The group served this run only; a broker that cannot delete it
		// expires it like any idle group.
		if admin, err := sarama.NewClusterAdminFromClient(client); err == nil {
			_ = admin.DeleteConsumerGroup(group)
		}
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

// run is one replay's plan and its progress through it; it is the Bound of
// the batcher.
type run struct {
	topic      string
	to         time.Time
	start, end map[int32]int64
	total      int64

	mu        sync.Mutex
	remaining map[int32]bool
	allDone   context.CancelFunc
}

func plan(client sarama.Client, cfg Config) (*run, error) {
	topic := cfg.Kafka.Topic
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	r := &run{topic: topic, to: cfg.To, start: map[int32]int64{}, end: map[int32]int64{}, remaining: map[int32]bool{}}
	for _, p := range parts {
		end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("end offset of %s/%d: %w", topic, p, err)
		}
		at := sarama.OffsetOldest
		if !cfg.From.IsZero() {
			at = cfg.From.UnixMilli()
		}
		start, err := client.GetOffset(topic, p, at)
		if err != nil {
			return nil, fmt.Errorf("start offset of %s/%d: %w", topic, p, err)
		}
		if start < 0 || start > end { // no message at or after From
			start = end
		}
		r.start[p], r.end[p] = start, end
		r.total += end - start
		r.remaining[p] = true
	}
	return r, nil
}

func (r *run) Past(msg *sarama.ConsumerMessage) bool {
	return msg.Offset >= r.end[msg.Partition] || (!r.to.IsZero() && msg.Timestamp.After(r.to))
}

func (r *run) Reached(_ string, partition int32, next int64) bool { return next >= r.end[partition] }

func (r *run) Finished(_ string, partition int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.remaining, partition)
	if len(r.remaining) == 0 {
		r.allDone()
	}
}
