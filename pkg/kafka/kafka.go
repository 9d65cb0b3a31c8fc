// Package kafka is stripeline's Kafka contract and the only place that knows
// Sarama: topic names, the key, event and poison headers, the wire format of
// a watermill message (message.go), the Sarama settings of the producer and
// the consumers, the publisher every service sends through (publisher.go),
// the Subscriber settings (subscriber.go), and the few admin calls watermill
// does not offer: offsets by time, end offsets, group offsets, topic creation
// (offsets.go), group states (group.go). docs/design.md describes the contract; docs/decisions.md why
// it is built this way.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/IBM/sarama"
)

// Topic names (docs/design.md, "Kafka contract").
const (
	DefaultTopic = "stripe.events.v1"
	PoisonSuffix = ".poison"
)

// Config is the broker part of every service's settings.
type Config struct {
	Brokers []string `env:"KAFKA_BROKERS, default=127.0.0.1:9092" help:"Kafka broker addresses (host:port), comma-separated"`
	Topic   string   `env:"KAFKA_TOPIC, default=stripe.events.v1" help:"the events topic; the poison topic is its name with the poison suffix"`
}

// PoisonTopic is where messages that cannot be stored go.
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

// SaramaVersion is the protocol version every client speaks: headers (which
// watermill needs) came with 0.11; 2.8 is what the broker images of
// docker-compose.yml and kfake both serve.
var SaramaVersion = sarama.V2_8_0_0

func baseSarama(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = SaramaVersion
	c.ClientID = clientID
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Net.DialTimeout = 2 * time.Second
	return c
}

// Bounds of one produce attempt. With ProducerRetries retries, a publish
// that nobody waits for any more (its caller answered 503 at its deadline)
// gives up after at most (ProducerRetries+1) × (dial + write + read) plus the
// backoffs: about 19 s against a broker that accepts connections and never
// answers, well under a second against one that refuses them.
const (
	producerDialTimeout  = 1 * time.Second
	producerWriteTimeout = 2 * time.Second
	producerReadTimeout  = 3 * time.Second
	// ProducerAckTimeout is how long the broker may wait for the in-sync
	// replicas (Kafka's request.timeout.ms on the produce request); below
	// the read timeout, so the broker answers before the client gives up.
	ProducerAckTimeout = 2 * time.Second
	ProducerRetries    = 2
)

// ProducerSarama is the producer configuration: acks from all in-sync
// replicas, idempotent, and failing within seconds when the broker is gone
// or hangs, so an abandoned publish does not live long.
func ProducerSarama(clientID string) *sarama.Config {
	c := baseSarama(clientID)
	c.Net.DialTimeout = producerDialTimeout
	c.Net.WriteTimeout = producerWriteTimeout
	c.Net.ReadTimeout = producerReadTimeout
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Timeout = ProducerAckTimeout
	c.Producer.Idempotent = true
	c.Net.MaxOpenRequests = 1 // what Sarama's idempotent producer requires
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Retry.Max = ProducerRetries
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner
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
