package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// ReadTopic returns every message on topic up to each partition's high
// watermark at the time of the call, partition by partition. It is for tests
// and tools that check what a topic holds, not for consuming.
func ReadTopic(ctx context.Context, brokers []string, topic string) ([]*sarama.ConsumerMessage, error) {
	client, err := sarama.NewClient(brokers, ConsumerSarama("stripeline-read", sarama.OffsetOldest))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	partitions, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	var out []*sarama.ConsumerMessage
	for _, p := range partitions {
		high, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("high watermark of %s/%d: %w", topic, p, err)
		}
		low, err := client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("low watermark of %s/%d: %w", topic, p, err)
		}
		if high <= low {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, low)
		if err != nil {
			return nil, fmt.Errorf("consume %s/%d: %w", topic, p, err)
		}
		for next := low; next < high; {
			select {
			case m := <-pc.Messages():
				out = append(out, m)
				next = m.Offset + 1
			case err := <-pc.Errors():
				pc.Close()
				return nil, fmt.Errorf("consume %s/%d: %w", topic, p, err)
			case <-ctx.Done():
				pc.Close()
				return nil, errors.Join(ctx.Err(), fmt.Errorf("read %s/%d up to offset %d", topic, p, high))
			}
		}
		pc.Close()
	}
	return out, nil
}
