package kafka

import (
	"errors"
	"fmt"

	"github.com/IBM/sarama"
)

// GroupLag is how many messages of topic group has not committed yet: the
// sum over partitions of the high watermark minus the committed offset (a
// partition without a commit counts from its low watermark).
func GroupLag(brokers []string, group, topic string) (int64, error) {
	client, err := sarama.NewClient(brokers, ConsumerSarama("stripeline-lag", sarama.OffsetOldest))
	if err != nil {
		return 0, fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return 0, err
	}
	partitions, err := client.Partitions(topic)
	if err != nil {
		return 0, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	offsets, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		offsets, err = nil, nil // a group that never committed
	}
	if err != nil {
		return 0, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	var lag int64
	for _, p := range partitions {
		high, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, err
		}
		committed := int64(-1)
		if offsets != nil {
			if b := offsets.GetBlock(topic, p); b != nil {
				committed = b.Offset
			}
		}
		if committed < 0 {
			if committed, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
				return 0, err
			}
		}
		lag += max(high-committed, 0)
	}
	return lag, nil
}
