package kafka

import (
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// Admin is the raw Sarama the project needs beside watermill: offsets by
// time and end offsets (where a reader starts and how far behind it is),
// group offsets (to start a group's Subscriber at a time, and to remove the
// group afterwards), and topic creation.
type Admin struct {
	client sarama.Client
	admin  sarama.ClusterAdmin
}

// NewAdmin connects to the brokers. It fails when none answers.
func NewAdmin(brokers []string, clientID string) (*Admin, error) {
	client, err := sarama.NewClient(brokers, ConsumerSarama(clientID, sarama.OffsetOldest))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("kafka admin: %w", err)
	}
	return &Admin{client: client, admin: admin}, nil
}

// Close closes the connections.
func (a *Admin) Close() error { return a.admin.Close() } // closes the client too

// Partitions is the topic's partition ids, from fresh metadata.
func (a *Admin) Partitions(topic string) ([]int32, error) {
	if err := a.client.RefreshMetadata(topic); err != nil {
		return nil, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	ids, err := a.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	if len(ids) == 0 {
		return nil, fmt.Errorf("topic %s has no partitions", topic)
	}
	return ids, nil
}

// EndOffsets is each partition's high-water mark: the offset the next
// message will get.
func (a *Admin) EndOffsets(topic string) (map[int32]int64, error) {
	return a.offsets(topic, sarama.OffsetNewest)
}

// StartOffsets is each partition's oldest offset still kept.
func (a *Admin) StartOffsets(topic string) (map[int32]int64, error) {
	return a.offsets(topic, sarama.OffsetOldest)
}

// OffsetsAt is, for each partition, the first offset whose broker timestamp
// is at or after t (the end offset when there is none); the zero t means
// the oldest offset kept.
func (a *Admin) OffsetsAt(topic string, t time.Time) (map[int32]int64, error) {
	if t.IsZero() {
		return a.StartOffsets(topic)
	}
	ends, err := a.EndOffsets(topic)
	if err != nil {
		return nil, err
	}
	at, err := a.offsets(topic, t.UnixMilli())
	if err != nil {
		return nil, err
	}
	for p, o := range at {
		if o < 0 || o > ends[p] { // nothing that recent
			at[p] = ends[p]
		}
	}
	return at, nil
}

func (a *Admin) offsets(topic string, at int64) (map[int32]int64, error) {
	ids, err := a.Partitions(topic)
	if err != nil {
		return nil, err
	}
	out := make(map[int32]int64, len(ids))
	for _, p := range ids {
		o, err := a.client.GetOffset(topic, p, at)
		if err != nil {
			return nil, fmt.Errorf("offset of %s/%d: %w", topic, p, err)
		}
		out[p] = o
	}
	return out, nil
}

// GroupOffsets is the group's committed offset of each partition of topic;
// a partition without a commit is absent.
func (a *Admin) GroupOffsets(group, topic string) (map[int32]int64, error) {
	ids, err := a.Partitions(topic)
	if err != nil {
		return nil, err
	}
	resp, err := a.admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: ids})
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		return map[int32]int64{}, nil // a group that never committed
	}
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	out := map[int32]int64{}
	for _, p := range ids {
		if b := resp.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError && b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out, nil
}

// SetGroupOffsets commits offsets for a group that has no members: its
// Subscriber then starts each partition there. This is how a reader starts
// at a time (OffsetsAt), which a Subscriber alone cannot.
func (a *Admin) SetGroupOffsets(group, topic string, offsets map[int32]int64) error {
	req := map[int32]sarama.OffsetAndMetadata{}
	for p, o := range offsets {
		req[p] = sarama.OffsetAndMetadata{Offset: o}
	}
	resp, err := a.admin.AlterConsumerGroupOffsets(group, map[string]map[int32]sarama.OffsetAndMetadata{topic: req}, nil)
	if err != nil {
		return fmt.Errorf("set offsets of group %s: %w", group, err)
	}
	for _, parts := range resp.Errors {
		for p, kerr := range parts {
			if kerr != sarama.ErrNoError {
				return fmt.Errorf("set offset of group %s on %s/%d: %w", group, topic, p, kerr)
			}
		}
	}
	return nil
}

// DeleteGroup removes a group and its offsets. A group that does not exist
// is not an error.
func (a *Admin) DeleteGroup(group string) error {
	err := a.admin.DeleteConsumerGroup(group)
	if err == nil || errors.Is(err, sarama.ErrGroupIDNotFound) {
		return nil
	}
	return fmt.Errorf("delete group %s: %w", group, err)
}

// Groups lists the consumer groups the brokers know.
func (a *Admin) Groups() ([]string, error) {
	gs, err := a.admin.ListConsumerGroups()
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	out := make([]string, 0, len(gs))
	for g := range gs {
		out = append(out, g)
	}
	return out, nil
}

// CreateTopic creates topic unless it exists.
func (a *Admin) CreateTopic(topic string, partitions int32, replication int16) error {
	err := a.admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: replication}, false)
	if err == nil || errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return nil
	}
	return fmt.Errorf("create topic %s: %w", topic, err)
}

// Lag is, per partition of topic, how many messages group has not
// committed: the end offset minus the committed one (a partition without a
// commit counts from its oldest offset).
func (a *Admin) Lag(group, topic string) (map[int32]int64, error) {
	ends, err := a.EndOffsets(topic)
	if err != nil {
		return nil, err
	}
	committed, err := a.GroupOffsets(group, topic)
	if err != nil {
		return nil, err
	}
	var starts map[int32]int64
	out := make(map[int32]int64, len(ends))
	for p, end := range ends {
		c, ok := committed[p]
		if !ok {
			if starts == nil {
				if starts, err = a.StartOffsets(topic); err != nil {
					return nil, err
				}
			}
			c = starts[p]
		}
		out[p] = max(end-c, 0)
	}
	return out, nil
}

// GroupLag is the sum over topic's partitions of Admin.Lag.
func GroupLag(brokers []string, group, topic string) (int64, error) {
	a, err := NewAdmin(brokers, "stripeline-lag")
	if err != nil {
		return 0, err
	}
	defer a.Close()
	lags, err := a.Lag(group, topic)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, l := range lags {
		sum += l
	}
	return sum, nil
}
