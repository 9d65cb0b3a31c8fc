// Package redrive sends poison messages back to the events topic once their
// cause is fixed (a writer that can now store them): every message of the
// poison topic from a start up to its end offsets when the redrive began,
// optionally only those of one reason. It reads with a watermill Subscriber
// of a consumer group of its own, deleted at the end. A message sent back
// that still cannot be stored is set aside again; one already stored is
// skipped by the writer, so a redrive can run again.
package redrive

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
)

// Config says what to send back.
type Config struct {
	Kafka kafka.Config
	// Reason, when set, sends back only the messages of that reason
	// (kafka.ReasonNotAnEvent, kafka.ReasonUnstorable, kafka.ReasonPanic).
	Reason string
	// From is the start: the zero time means the oldest poison message kept.
	From time.Time
	// DryRun counts what would be sent back, and sends nothing.
	DryRun bool
}

// Stats is what a redrive did.
type Stats struct {
	Read, Sent, Skipped int64
}

// Publisher is where messages are sent back (kafka.Publisher is one).
type Publisher interface {
	Publish(topic string, msgs ...*message.Message) error
}

// Run sends back the poison messages cfg selects, through pub.
func Run(ctx context.Context, cfg Config, pub Publisher, logger *slog.Logger) (Stats, error) {
	group := kafka.NewGroupName("event-writer-redrive")
	admin, err := kafka.NewAdmin(cfg.Kafka.Brokers, group)
	if err != nil {
		return Stats{}, fmt.Errorf("connect to kafka: %w", err)
	}
	span, err := admin.PlanSpan(cfg.Kafka.PoisonTopic(), cfg.From, time.Time{})
	admin.Close()
	if err != nil {
		return Stats{}, err
	}
	logger.Info("redrive starting", "from_topic", span.Topic, "to_topic", cfg.Kafka.Topic, "group", group,
		"messages", span.Total(), "reason", cfg.Reason, "dry_run", cfg.DryRun)
	var st Stats
	handle := func(msg *message.Message) error {
		atomic.AddInt64(&st.Read, 1)
		if cfg.Reason != "" && kafka.PoisonReason(msg.Metadata) != cfg.Reason {
			atomic.AddInt64(&st.Skipped, 1)
			return nil
		}
		if !cfg.DryRun {
			if err := pub.Publish(cfg.Kafka.Topic, kafka.Unpoisoned(msg)); err != nil {
				return fmt.Errorf("send back: %w", err)
			}
		}
		atomic.AddInt64(&st.Sent, 1)
		return nil
	}
	err = kafka.ReadSpan(ctx, kafka.SubscriberConfig{Brokers: cfg.Kafka.Brokers, ClientID: "event-writer-redrive", Group: group},
		span, handle, logging.Watermill(logger))
	return st, err
}
