// Package kafka holds the Kafka contract of stripeline (topics, keys, headers
// through watermill-kafka's marshaler, client settings), the batching
// watermill publisher ingest answers through, and small tools over topics
// and groups (lag, reading a topic whole).
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Topic names (DESIGN.md, "Kafka contract").
const (
	DefaultTopic = "stripe.events.v1"
	PoisonSuffix = ".poison"
)

// Config is the broker part of every service's settings.
type Config struct {
	Brokers []string `env:"KAFKA_BROKERS, default=127.0.0.1:9092"`
	Topic   string   `env:"KAFKA_TOPIC, default=stripe.events.v1"`
}

// PoisonTopic is where messages that are not events go.
func (c Config) PoisonTopic() string { return c.Topic + PoisonSuffix }

// Validate reports a setting that cannot work.
func (c Config) Validate() error {
	if len(c.Brokers) == 0 {
		return errors.New("KAFKA_BROKERS: at least one broker address is required")
	}
	if c.Topic == "" {
		return errors.New("KAFKA_TOPIC: must not be empty")
	}
	return nil
}

func baseSarama(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = clientID
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Net.DialTimeout = 2 * time.Second
	return c
}

// ProducerSarama is the producer configuration: acks from all in-sync
// replicas, idempotent, failing fast when the broker is gone so callers can
// answer 503 instead of hanging.
func ProducerSarama(clientID string) *sarama.Config {
	c := baseSarama(clientID)
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = 2
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner
	// A request goes as soon as the one in flight is answered, with whatever
	// is waiting (Kafka's linger.ms=0): concurrent callers share it, and none
	// waits on a timer. At most 500 messages per request.
	c.Producer.Flush.MaxMessages = 500
	c.Producer.Compression = sarama.CompressionNone
	return c
}

// ConsumerSarama is the consumer configuration. initial is sarama.OffsetOldest
// or sarama.OffsetNewest: where a group without committed offsets starts.
func ConsumerSarama(clientID string, initial int64) *sarama.Config {
	c := baseSarama(clientID)
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = initial
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = 200 * time.Millisecond
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	// Below Net.ReadTimeout (30 s): a JoinGroup that waits longer than its
	// read deadline is sent again, and kfake restarts the rebalance's wait on
	// every join, so a member killed mid-join (never rejoining) kept the group
	// in PreparingRebalance for good: no partition consumed (docs/chaos.md).
	c.Consumer.Group.Rebalance.Timeout = 20 * time.Second
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRoundRobin()}
	return c
}

// Marshaler keys every message by the event's object id, so all events of one
// transaction land on one partition in the order they were accepted.
var Marshaler = wmkafka.NewWithPartitioningMarshaler(func(_ string, msg *message.Message) (string, error) {
	return msg.Metadata.Get(stripeevent.HeaderObjectID), nil
})

// Reachable reports whether any broker accepts a TCP connection; it is what
// /readyz asks.
func Reachable(ctx context.Context, brokers []string) error {
	var d net.Dialer
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			conn.Close()
			return nil
		}
		errs = append(errs, err)
	}
	return fmt.Errorf("no kafka broker reachable: %w", errors.Join(errs...))
}
