package kafka

import (
	"testing"

	"github.com/IBM/sarama"
)

// Regression (found by the fault suite, docs/chaos.md): a rebalance that may
// take longer than a JoinGroup's read deadline makes live members send their
// JoinGroup again, which restarts the broker's wait for a member killed
// mid-join; the group then never leaves PreparingRebalance.
func TestConsumerRebalanceFitsTheReadDeadline(t *testing.T) {
	c := ConsumerSarama("test", sarama.OffsetOldest)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Consumer.Group.Rebalance.Timeout >= c.Net.ReadTimeout {
		t.Fatalf("rebalance timeout %s ≥ read timeout %s", c.Consumer.Group.Rebalance.Timeout, c.Net.ReadTimeout)
	}
	if !c.Consumer.Offsets.AutoCommit.Enable || c.Consumer.Offsets.Initial != sarama.OffsetOldest {
		t.Fatal("the writer relies on auto-commit of marked offsets and on a new group reading from the oldest")
	}
}

func TestProducerIsDurable(t *testing.T) {
	c := ProducerSarama("test")
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Producer.RequiredAcks != sarama.WaitForAll || !c.Producer.Idempotent {
		t.Fatal("ingest answers 2xx on the producer's ack: it must be from all in-sync replicas, idempotent")
	}
}
