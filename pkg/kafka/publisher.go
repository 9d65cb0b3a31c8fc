package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"
)

// Errors Publish wraps, for callers that answer each differently.
var (
	ErrPublisherClosed = errors.New("kafka: publisher closed")
	// ErrMessageTooLarge: the producer's MaxMessageBytes or the broker
	// refuses the message for its size; retrying will not help.
	ErrMessageTooLarge = errors.New("kafka: message larger than the broker accepts")
)

// PublisherConfig is what NewPublisher needs.
type PublisherConfig struct {
	Brokers  []string
	ClientID string
	// MaxMessageBytes is the largest message (body plus headers) the
	// producer sends: the topic's max.message.bytes. Zero keeps Sarama's
	// 1,000,000, under Kafka's default of 1,048,588.
	MaxMessageBytes int
	// Tracing, when set, gives each message a producer span in the trace
	// of its traceparent header (kafka/tracer.go); nil installs no tracer.
	Tracing trace.TracerProvider
}

// Publisher is watermill-kafka's Publisher (a Sarama SyncProducer with
// ProducerSarama's settings, the Marshaler's wire format) made safe to
// abandon and to close while publishing:
//
//   - Publish honours each message's context (message.SetContext): when it
//     ends, Publish returns its cause at once. watermill's Publish takes no
//     context, so it keeps running in the background; it may still complete
//     (the event is then stored once: consumers dedupe by event id), and
//     Sarama's timeouts and retries (ProducerSarama) end it within seconds.
//   - Close waits for the publishes still running, abandoned ones included,
//     then closes the producer. watermill's Publisher keeps its closed flag
//     as a plain bool: this lock is what makes Close and Publish race-free.
type Publisher struct {
	pub *wmkafka.Publisher

	mu     sync.RWMutex // held for reading by every running publish
	closed bool
}

// NewPublisher connects a publisher. It fails when no broker answers.
func NewPublisher(cfg PublisherConfig, logger watermill.LoggerAdapter) (*Publisher, error) {
	sc := ProducerSarama(cfg.ClientID)
	if cfg.MaxMessageBytes > 0 {
		sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	}
	pub, err := wmkafka.NewPublisher(wmkafka.PublisherConfig{
		Brokers:               cfg.Brokers,
		Marshaler:             Marshaler,
		OverwriteSaramaConfig: sc,
		Tracer:                newSaramaTracer(cfg.Tracing),
	}, logger)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &Publisher{pub: pub}, nil
}

// Publish sends msgs to topic and returns nil once the broker acknowledged
// every one of them. If the first message's context ends first, Publish
// returns that context's cause and leaves the publish to finish or fail on
// its own.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	if p.closed {
		p.mu.RUnlock()
		return ErrPublisherClosed
	}
	if len(msgs) == 0 {
		p.mu.RUnlock()
		return nil
	}
	ctx := msgs[0].Context()
	if ctx.Done() == nil { // no deadline: nothing to answer by
		defer p.mu.RUnlock()
		return publishError(p.pub.Publish(topic, msgs...))
	}
	if ctx.Err() != nil { // ended already: nobody waits for the answer
		p.mu.RUnlock()
		return fmt.Errorf("kafka: publish abandoned: %w", context.Cause(ctx))
	}
	done := make(chan error, 1) // the publish never blocks on its result
	go func() {
		defer p.mu.RUnlock()
		done <- p.pub.Publish(topic, msgs...)
	}()
	select {
	case err := <-done:
		return publishError(err)
	case <-ctx.Done():
		return fmt.Errorf("kafka: publish abandoned: %w", context.Cause(ctx))
	}
}

func publishError(err error) error {
	// The broker's refusal, or the producer's own check against
	// MaxMessageBytes, which Sarama reports as a configuration error.
	var cfgErr sarama.ConfigurationError
	if errors.Is(err, sarama.ErrMessageSizeTooLarge) ||
		(errors.As(err, &cfgErr) && strings.Contains(string(cfgErr), "MaxMessageBytes")) {
		return fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
	}
	return err
}

// Close waits for the publishes still running, then closes the producer.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.pub.Close()
}

var _ message.Publisher = (*Publisher)(nil)
