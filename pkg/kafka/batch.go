package kafka

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Errors Publish wraps, for callers that answer each differently.
var (
	ErrPublisherClosed = errors.New("kafka: publisher closed")
	// ErrMessageTooLarge: the broker (or the producer's MaxMessageBytes)
	// refuses the message for its size; retrying will not help.
	ErrMessageTooLarge = errors.New("kafka: message larger than the broker accepts")
)

// BatchPublisher is a watermill message.Publisher whose concurrent callers
// share broker round trips: every message goes into one franz-go (kgo)
// producer, which packs whatever is waiting into one produce request per
// broker, and each Publish returns when the broker has acknowledged its own
// messages.
//
// watermill-kafka's Publisher sends one message at a time per caller and
// cannot be abandoned: a caller that gives up on a slow broker leaves a
// goroutine blocked inside it. Publish here honours each message's context
// (message.SetContext): when it ends, Publish returns its error at once and
// the message's fate is left to the producer (it may still be written).
//
// The wire format is watermill-kafka's (its Marshaler makes the key, value
// and headers), and keys go to the partitions Sarama's hash partitioner
// picks, so consumers and the project's other producers see no difference.
// kgo rather than a Sarama AsyncProducer: it costs half the CPU per message,
// and on shared cores that is ingest's throughput (docs/decisions.md).
type BatchPublisher struct {
	client    *kgo.Client
	marshaler wmkafka.Marshaler

	mu     sync.RWMutex // held for reading while handing records to the client
	closed bool
}

// BatchPublisherConfig is what NewBatchPublisher needs.
type BatchPublisherConfig struct {
	Brokers  []string
	ClientID string
	// MaxMessageBytes is the topic's max.message.bytes: the largest record
	// batch the producer sends, so also the largest message (body plus
	// headers). Above the broker's limit, a batch of many small messages
	// would be refused whole. Zero keeps kgo's 1,000,012, under Kafka's
	// default of 1,048,588.
	MaxMessageBytes int
}

// Bounds of the producer's lifecycle.
const (
	dialTimeout   = 2 * time.Second // also how long NewBatchPublisher waits for a broker
	closeFlushMax = 5 * time.Second // Close's wait for records still buffered
)

// NewBatchPublisher connects a batching publisher with the guarantees of
// ProducerSarama: acks from all in-sync replicas, idempotent, a request as
// soon as the one in flight is answered (linger 0), no compression. It fails
// when no broker answers, as a Sarama producer does.
func NewBatchPublisher(cfg BatchPublisherConfig) (*BatchPublisher, error) {
	client, err := kgo.NewClient(ProducerOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka producer: %w", err)
	}
	return &BatchPublisher{client: client, marshaler: Marshaler}, nil
}

// ProducerOptions are the kgo options of NewBatchPublisher's producer; the
// ingest benchmark's floor produces with them too.
func ProducerOptions(cfg BatchPublisherConfig) []kgo.Opt {
	maxBytes := cfg.MaxMessageBytes
	if maxBytes <= 0 {
		maxBytes = 1_000_012
	}
	return []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(dialTimeout),
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: kgo's default, which needs these acks
		kgo.ProducerLinger(0),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(kgo.SaramaCompatHasher(fnv32a))),
		kgo.AllowAutoTopicCreation(), // as Sarama's metadata requests do
	}
}

// fnv32a is the hash of Sarama's default partitioner.
func fnv32a(b []byte) uint32 {
	h := fnv.New32a()
	h.Write(b)
	return h.Sum32()
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
			if err != nil && msgs[i].Context().Err() != nil {
				// The producer failed it because its context ended: say why
				// the context ended, as the other case does.
				err = context.Cause(msgs[i].Context())
			}
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
		rec, err := p.record(topic, msg)
		if err != nil {
			return fmt.Errorf("marshal message %s: %w", msg.UUID, err)
		}
		ch := make(chan error, 1) // room for the one result: the promise never blocks
		results[i] = ch
		p.client.Produce(msg.Context(), rec, func(_ *kgo.Record, err error) {
			if errors.Is(err, kerr.MessageTooLarge) { // from the broker, or from kgo before sending
				err = fmt.Errorf("%w: %w", ErrMessageTooLarge, err)
			}
			ch <- err
		})
	}
	return nil
}

// record is msg as watermill-kafka's marshaler puts it on the wire.
func (p *BatchPublisher) record(topic string, msg *message.Message) (*kgo.Record, error) {
	pm, err := p.marshaler.Marshal(topic, msg)
	if err != nil {
		return nil, err
	}
	rec := &kgo.Record{Topic: topic, Headers: make([]kgo.RecordHeader, len(pm.Headers))}
	if pm.Key != nil {
		if rec.Key, err = pm.Key.Encode(); err != nil {
			return nil, err
		}
	}
	if pm.Value != nil {
		if rec.Value, err = pm.Value.Encode(); err != nil {
			return nil, err
		}
	}
	for i, h := range pm.Headers {
		rec.Headers[i] = kgo.RecordHeader{Key: string(h.Key), Value: h.Value}
	}
	return rec, nil
}

// Close waits up to closeFlushMax for what was handed to the producer, then
// closes it; Publish calls still waiting get their results first.
func (p *BatchPublisher) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), closeFlushMax)
	defer cancel()
	err := p.client.Flush(ctx)
	p.client.Close() // fails what is still buffered
	if err != nil {
		return fmt.Errorf("kafka producer: records still unacknowledged at close: %w", err)
	}
	return nil
}

var _ message.Publisher = (*BatchPublisher)(nil)
