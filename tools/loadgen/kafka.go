package loadgen

import (
	"context"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
)

// Message is the event as webhook-ingest publishes it: keyed by its object
// id, the raw body as value, the contract's headers.
func (e Event) Message(topic string, receivedAt time.Time) *sarama.ProducerMessage {
	return RawMessage(topic, e.ObjectID, e.Body, kafka.EventHeaders(e.Envelope, receivedAt))
}

// RawMessage is a message with any key, body and headers: poison looks like this.
func RawMessage(topic, key string, body []byte, headers map[string]string) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(body)}
	for k, v := range headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	return m
}

// Producer is a bare Sarama producer with the project's producer settings
// (acks from all in-sync replicas, idempotent), sending in batches: it
// fills backlogs for tests and is the ceiling ingest is measured against.
type Producer struct{ p sarama.SyncProducer }

// NewProducer connects to brokers.
func NewProducer(brokers []string) (*Producer, error) {
	p, err := sarama.NewSyncProducer(brokers, kafka.ProducerSarama("loadgen"))
	if err != nil {
		return nil, err
	}
	return &Producer{p: p}, nil
}

// Batch is how many messages one Send round trip carries.
const Batch = 500

// Send publishes msgs in batches, each acknowledged by the broker.
func (p *Producer) Send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	for len(msgs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(msgs), Batch)
		if err := p.p.SendMessages(msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// SendEvents publishes events to topic as ingest would.
func (p *Producer) SendEvents(ctx context.Context, topic string, events []Event) error {
	msgs := make([]*sarama.ProducerMessage, len(events))
	now := time.Now()
	for i, e := range events {
		msgs[i] = e.Message(topic, now)
	}
	return p.Send(ctx, msgs)
}

// Close closes the producer.
func (p *Producer) Close() error { return p.p.Close() }
