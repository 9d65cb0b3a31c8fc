package kafka

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"go.opentelemetry.io/otel/trace"
)

// SubscriberConfig is what NewSubscriber needs.
type SubscriberConfig struct {
	Brokers  []string
	ClientID string
	// Group is the consumer group. A group without committed offsets starts
	// at Initial (sarama.OffsetOldest, the default, or sarama.OffsetNewest); to start
	// anywhere else, commit its offsets first (Admin.SetGroupOffsets).
	Group   string
	Initial int64
	// Sarama, when set, adjusts the consumer's settings after
	// ConsumerSarama's (fetch sizes, buffers).
	Sarama func(*sarama.Config)
	// NackResendSleep is how long a nacked message waits before it is
	// handed out again; zero keeps watermill's 100 ms.
	NackResendSleep time.Duration
	// Tracing, when set, gives each message a consumer span in the trace
	// of its traceparent header and puts that span there for the handler
	// (kafka/tracer.go); nil installs no tracer.
	Tracing trace.TracerProvider
}

// NewSubscriber is watermill-kafka's Subscriber with the project's consumer
// settings and wire format. It hands out one message per partition at a
// time and marks its offset on Ack; Sarama commits marked offsets every
// 200 ms, so nothing is committed before its handler acknowledged it.
func NewSubscriber(cfg SubscriberConfig, logger watermill.LoggerAdapter) (*wmkafka.Subscriber, error) {
	if cfg.Initial == 0 {
		cfg.Initial = sarama.OffsetOldest
	}
	sc := ConsumerSarama(cfg.ClientID, cfg.Initial)
	if cfg.Sarama != nil {
		cfg.Sarama(sc)
	}
	sub, err := wmkafka.NewSubscriber(wmkafka.SubscriberConfig{
		Brokers:               cfg.Brokers,
		Unmarshaler:           Marshaler,
		OverwriteSaramaConfig: sc,
		ConsumerGroup:         cfg.Group,
		NackResendSleep:       cfg.NackResendSleep,
		ReconnectRetrySleep:   500 * time.Millisecond,
		Tracer:                newSaramaTracer(cfg.Tracing),
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("kafka subscriber: %w", err)
	}
	return sub, nil
}

// NewGroupName is a consumer group for one run only: prefix, the time (UTC)
// and a random suffix, so runs started together never share a group.
func NewGroupName(prefix string) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return fmt.Sprintf("%s-%s-%s", prefix, time.Now().UTC().Format("20060102T150405Z"), hex.EncodeToString(b))
}
