package kafka

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Errors Publish wraps, for callers that answer each differently.
var (
	ErrPublisherClosed = errors.New("kafka: publisher closed")
	// ErrMessageTooLarge: the broker (or the producer's MaxMessageBytes)
	// refuses the message for its size; retrying will not help.
	ErrMessageTooLarge = errors.New("kafka: message larger than the broker accepts")
)

// BatchPublisher is a watermill message.Publisher whose concurrent callers
// share broker round trips: every message goes into one Sarama AsyncProducer,
// which packs whatever is waiting into one produce request per broker, and
// each Publish returns when the broker has acknowledged its own messages.
//
// watermill-kafka's Publisher sends one message at a time per caller and
// cannot be abandoned: a caller that gives up on a slow broker leaves a
// goroutine blocked inside it. Publish here honours each message's context
// (message.SetContext): when it ends, Publish returns its error at once and
// the message's fate is left to the producer (it may still be written).
type BatchPublisher struct {
	producer  sarama.AsyncProducer
	marshaler wmkafka.Marshaler

	mu     sync.RWMutex // held for reading while sending to the producer's input
	closed bool
	done   sync.WaitGroup // the result dispatchers
}

// BatchPublisherConfig is what NewBatchPublisher needs.
type BatchPublisherConfig struct {
	Brokers  []string
	ClientID string
	// MaxMessageBytes is the largest message the producer accepts (body plus
	// headers); zero keeps Sarama's default of 1,000,000.
	MaxMessageBytes int
}

// NewBatchPublisher connects a batching publisher with the producer
// settings of ProducerSarama (acks from all in-sync replicas, idempotent).
// Errors are returned to the callers of Publish, which log them once.
func NewBatchPublisher(cfg BatchPublisherConfig) (*BatchPublisher, error) {
	sc := ProducerSarama(cfg.ClientID)
	if cfg.MaxMessageBytes > 0 {
		sc.Producer.MaxMessageBytes = cfg.MaxMessageBytes
	}
	producer, err := sarama.NewAsyncProducer(cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	p := &BatchPublisher{producer: producer, marshaler: Marshaler}
	p.done.Add(2)
	go func() {
		defer p.done.Done()
		for m := range producer.Successes() {
			complete(m, nil)
		}
	}()
	go func() {
		defer p.done.Done()
		for pe := range producer.Errors() {
			err := pe.Err
			if errors.Is(err, sarama.ErrMessageSizeTooLarge) {
				err = fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
			}
			complete(pe.Msg, err)
		}
	}()
	return p, nil
}

// complete hands a message's result to its waiting Publish; the channel has
// room for exactly that one result, so the dispatcher never blocks.
func complete(m *sarama.ProducerMessage, err error) {
	if ch, ok := m.Metadata.(chan error); ok {
		ch <- err
	}
}

// Publish sends msgs to topic and returns nil once the broker acknowledged
// every one of them, the first error otherwise. A message whose context ends
// first makes Publish return that context's error.
func (p *BatchPublisher) Publish(topic string, msgs ...*message.Message) error {
	results := make([]chan error, len(msgs))
	if err := p.enqueue(topic, msgs, results); err != nil {
		return err
	}
	var first error
	for i, ch := range results {
		select {
		case err := <-ch:
			if err != nil && first == nil {
				first = fmt.Errorf("produce message %s: %w", msgs[i].UUID, err)
			}
		case <-msgs[i].Context().Done():
			if first == nil {
				first = fmt.Errorf("produce message %s: %w", msgs[i].UUID, context.Cause(msgs[i].Context()))
			}
			return first
		}
	}
	return first
}

func (p *BatchPublisher) enqueue(topic string, msgs []*message.Message, results []chan error) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return ErrPublisherClosed
	}
	for i, msg := range msgs {
		km, err := p.marshaler.Marshal(topic, msg)
		if err != nil {
			return fmt.Errorf("marshal message %s: %w", msg.UUID, err)
		}
		results[i] = make(chan error, 1)
		km.Metadata = results[i]
		select {
		case p.producer.Input() <- km:
		case <-msg.Context().Done():
			return fmt.Errorf("produce message %s: %w", msg.UUID, context.Cause(msg.Context()))
		}
	}
	return nil
}

// Close flushes what was handed to the producer and closes it; Publish
// calls still waiting get their results first.
func (p *BatchPublisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	p.producer.AsyncClose()
	p.done.Wait()
	return nil
}

var _ message.Publisher = (*BatchPublisher)(nil)
