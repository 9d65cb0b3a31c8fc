package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/tools/testenv"
)

func TestGroupLag(t *testing.T) {
	brokers := []string{testenv.Broker(t)}
	topic := testenv.Topic(t)
	p, err := sarama.NewSyncProducer(brokers, kafka.ProducerSarama("lag-test"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for i := range 10 {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(rune('a' + i)), Value: sarama.StringEncoder("x")}); err != nil {
			t.Fatal(err)
		}
	}
	group := "lag-" + topic
	if lag, err := kafka.GroupLag(brokers, group, topic); err != nil || lag != 10 {
		t.Fatalf("lag of a group that committed nothing = %d, %v; want 10", lag, err)
	}

	// Consume and commit everything: the lag drops to 0.
	cg, err := sarama.NewConsumerGroup(brokers, group, kafka.ConsumerSarama(group, sarama.OffsetOldest))
	if err != nil {
		t.Fatal(err)
	}
	defer cg.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = cg.Consume(ctx, []string{topic}, markAll{}) }()
	testenv.Eventually(t, 30*time.Second, func() error {
		lag, err := kafka.GroupLag(brokers, group, topic)
		if err == nil && lag != 0 {
			return fmt.Errorf("lag still %d", lag)
		}
		return err
	})
}

type markAll struct{}

func (markAll) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (markAll) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (markAll) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		s.MarkMessage(m, "")
	}
	return nil
}
