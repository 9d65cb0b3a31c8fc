// Package feed is the notifier's Kafka port. Every instance reads every
// partition of the events topic itself (no consumer group: each instance
// must see every event for its own clients), starting at the first offset of
// the recent window, found by time. It reports ready once it has read up to
// where the topic ended when it started: the window is rebuilt before a load
// balancer sends it clients.
package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// Publisher is where events go: the hub.
type Publisher interface {
	Publish(ev *hub.Event) bool
}

// Config is the feed's settings.
type Config struct {
	Kafka  kafka.Config
	Window time.Duration // how far back to read at start
}

// Feed moves events from the topic to the hub.
type Feed struct {
	cfg    Config
	hub    Publisher
	logger *slog.Logger
	ready  atomic.Bool
}

// New builds a Feed.
func New(cfg Config, h Publisher, logger *slog.Logger) *Feed {
	return &Feed{cfg: cfg, hub: h, logger: logger}
}

// Ready reports whether the window is rebuilt and live events flow.
func (f *Feed) Ready(context.Context) error {
	if !f.ready.Load() {
		return errors.New("rebuilding the recent window from the events topic")
	}
	return nil
}

// Run reads the topic into the hub until ctx ends. It waits for the broker
// and the topic when they are not there yet.
func (f *Feed) Run(ctx context.Context) error {
	defer f.ready.Store(false)
	client, err := retry(ctx, f.logger, "connect to kafka", func() (sarama.Client, error) {
		return sarama.NewClient(f.cfg.Kafka.Brokers, kafka.ConsumerSarama("stripeline-notifier", sarama.OffsetNewest))
	})
	if err != nil {
		return nil // ctx ended
	}
	defer client.Close()
	parts, err := retry(ctx, f.logger, "start partitions", func() ([]partition, error) {
		return f.plan(client, time.Now().Add(-f.cfg.Window))
	})
	if err != nil {
		return nil
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return err
	}
	defer consumer.Close()

	msgs := make(chan *sarama.ConsumerMessage, 256)
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for _, p := range parts {
		pc, err := consumer.ConsumePartition(f.cfg.Kafka.Topic, p.id, p.start)
		if errors.Is(err, sarama.ErrOffsetOutOfRange) {
			// Retention removed the window's start since plan: take what is left.
			pc, err = consumer.ConsumePartition(f.cfg.Kafka.Topic, p.id, sarama.OffsetOldest)
		}
		if err != nil {
			return fmt.Errorf("consume partition %d: %w", p.id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.pump(ctx, pc, msgs)
		}()
	}

	behind := map[int32]int64{} // partition → offset it must reach to be ready
	for _, p := range parts {
		if p.start < p.end {
			behind[p.id] = p.end - 1
		}
	}
	f.logger.Info("rebuilding recent window", "window", f.cfg.Window.String(), "partitions", len(parts), "messages", sumBehind(parts))
	if len(behind) == 0 {
		f.markReady()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case m := <-msgs:
			f.handle(m)
			if last, ok := behind[m.Partition]; ok && m.Offset >= last {
				delete(behind, m.Partition)
				if len(behind) == 0 {
					f.markReady()
				}
			}
		}
	}
}

func (f *Feed) markReady() {
	f.ready.Store(true)
	f.logger.Info("recent window rebuilt; serving live events")
}

// pump forwards one partition's messages; sarama retries broker trouble
// itself and reports it on Errors.
func (f *Feed) pump(ctx context.Context, pc sarama.PartitionConsumer, out chan<- *sarama.ConsumerMessage) {
	defer pc.AsyncClose()
	for {
		select {
		case <-ctx.Done():
			return
		case err, ok := <-pc.Errors():
			if ok {
				f.logger.Warn("kafka partition consumer", "error", err)
			}
		case m, ok := <-pc.Messages():
			if !ok {
				return
			}
			select {
			case out <- m:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (f *Feed) handle(m *sarama.ConsumerMessage) {
	ev, err := Decode(m)
	if err != nil {
		f.logger.Warn("skipping message that is not an event", "partition", m.Partition, "offset", m.Offset, "error", err)
		return
	}
	f.hub.Publish(ev)
}

// Decode reads a message of the events topic.
func Decode(m *sarama.ConsumerMessage) (*hub.Event, error) {
	env, err := stripeevent.Parse(m.Value)
	if err != nil {
		return nil, err
	}
	headers := make(map[string]string, len(m.Headers))
	for _, h := range m.Headers {
		if k := string(h.Key); k != wmkafka.UUIDHeaderKey {
			headers[k] = string(h.Value)
		}
	}
	at := m.Timestamp
	if at.IsZero() || at.Unix() <= 0 {
		at = time.Now()
	}
	return hub.NewEvent(env, headers, m.Value, at), nil
}

type partition struct {
	id         int32
	start, end int64 // first offset of the window; high watermark at start
}

func sumBehind(parts []partition) int64 {
	var n int64
	for _, p := range parts {
		n += p.end - p.start
	}
	return n
}

// plan finds, for each partition, the first offset at or after since (the
// broker's offsets-by-time index) and the current end.
func (f *Feed) plan(client sarama.Client, since time.Time) ([]partition, error) {
	topic := f.cfg.Kafka.Topic
	if err := client.RefreshMetadata(topic); err != nil {
		return nil, err
	}
	ids, err := client.Partitions(topic)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	parts := make([]partition, 0, len(ids))
	for _, id := range ids {
		end, err := client.GetOffset(topic, id, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		start, err := client.GetOffset(topic, id, since.UnixMilli())
		if err != nil {
			return nil, err
		}
		if start < 0 || start > end { // nothing that recent
			start = end
		}
		parts = append(parts, partition{id: id, start: start, end: end})
	}
	return parts, nil
}

// retry calls try until it succeeds or ctx ends, logging each failure once
// in a while.
func retry[T any](ctx context.Context, logger *slog.Logger, what string, try func() (T, error)) (T, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		v, err := try()
		if err == nil {
			return v, nil
		}
		if attempt == 1 || attempt%20 == 0 {
			logger.Warn("waiting for kafka", "step", what, "attempt", attempt, "error", err)
		}
		select {
		case <-ctx.Done():
			return v, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
