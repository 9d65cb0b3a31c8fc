package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/testenv"
)

func TestBatchPublisherConcurrentCallersAllAcknowledged(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	pub, err := kafka.NewBatchPublisher(kafka.BatchPublisherConfig{Brokers: []string{broker}, ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	const callers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Half the callers publish one at a time, half several per call.
			var batch []*message.Message
			for i := range each {
				m := message.NewMessage(fmt.Sprintf("u-%d-%d", c, i), []byte(fmt.Sprintf(`{"n":"%d-%d"}`, c, i)))
				m.Metadata.Set(stripeevent.HeaderObjectID, fmt.Sprintf("ch_%d", c))
				m.Metadata.Set(stripeevent.HeaderEventID, fmt.Sprintf("evt_%d_%d", c, i))
				batch = append(batch, m)
			}
			if c%2 == 0 {
				errs <- pub.Publish(topic, batch...)
				return
			}
			for _, m := range batch {
				if err := pub.Publish(topic, m); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	for range callers {
		if err := <-errs; err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}

	// Publish returned: every message is on the topic now, keyed by object id.
	got := testenv.TopicMessages(t, []string{broker}, topic)
	if len(got) != callers*each {
		t.Fatalf("topic holds %d messages, want %d", len(got), callers*each)
	}
	seen := map[string]bool{}
	for _, m := range got {
		var id string
		for _, h := range m.Headers {
			if string(h.Key) == stripeevent.HeaderEventID {
				id = string(h.Value)
			}
		}
		var c, i int
		if _, err := fmt.Sscanf(id, "evt_%d_%d", &c, &i); err != nil {
			t.Fatalf("message without a usable event_id header: %q", id)
		}
		if want := fmt.Sprintf(`{"n":"%d-%d"}`, c, i); string(m.Value) != want {
			t.Errorf("%s: value %s, want %s", id, m.Value, want)
		}
		if want := fmt.Sprintf("ch_%d", c); string(m.Key) != want {
			t.Errorf("%s: key %s, want %s", id, m.Key, want)
		}
		seen[id] = true
	}
	if len(seen) != callers*each {
		t.Fatalf("%d distinct events on the topic, want %d", len(seen), callers*each)
	}
}

func TestBatchPublisherGivesUpWhenTheMessageContextEnds(t *testing.T) {
	// A broker that accepted the connection once and is then gone.
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewBatchPublisher(kafka.BatchPublisherConfig{Brokers: []string{b.Addr()}, ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	defer pub.Close()

	deadline := errors.New("the publish deadline passed")
	ctx, cancel := context.WithTimeoutCause(context.Background(), 300*time.Millisecond, deadline)
	defer cancel()
	m := message.NewMessage("u-1", []byte(`{}`))
	m.SetContext(ctx)
	done := make(chan error, 1)
	go func() { done <- pub.Publish("t", m) }()
	select {
	case err := <-done:
		// The deadline's cause, whichever noticed first: Publish or the producer.
		if !errors.Is(err, deadline) {
			t.Fatalf("Publish to a stopped broker = %v, want the context's cause", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Publish did not return after its message's context ended")
	}
}

func TestBatchPublisherClosed(t *testing.T) {
	pub, err := kafka.NewBatchPublisher(kafka.BatchPublisherConfig{Brokers: []string{testenv.Broker(t)}, ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("t", message.NewMessage("u", nil)); !errors.Is(err, kafka.ErrPublisherClosed) {
		t.Fatalf("Publish after Close = %v, want ErrPublisherClosed", err)
	}
}

// Keys land on the partition Sarama's hash partitioner picks, so every
// producer of the project (ingest's kgo, the Sarama ones of the tools) puts a
// transaction's events on one partition.
func TestBatchPublisherPartitionsAsSarama(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	pub, err := kafka.NewBatchPublisher(kafka.BatchPublisherConfig{Brokers: []string{broker}, ClientID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	var msgs []*message.Message
	for i := range 40 {
		m := message.NewMessage(fmt.Sprintf("u-%d", i), []byte(`{}`))
		m.Metadata.Set(stripeevent.HeaderObjectID, fmt.Sprintf("ch_%d", i))
		msgs = append(msgs, m)
	}
	if err := pub.Publish(topic, msgs...); err != nil {
		t.Fatal(err)
	}
	parts := testenv.EndOffsets(t, []string{broker}, topic)
	if len(parts) < 2 {
		t.Fatalf("topic has %d partitions: nothing to compare", len(parts))
	}
	got := testenv.TopicMessages(t, []string{broker}, topic)
	hp := sarama.NewHashPartitioner(topic)
	used := map[int32]bool{}
	for _, m := range got {
		want, err := hp.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(m.Key)}, int32(len(parts)))
		if err != nil {
			t.Fatal(err)
		}
		if m.Partition != want {
			t.Errorf("key %s on partition %d, Sarama's hash partitioner picks %d", m.Key, m.Partition, want)
		}
		used[m.Partition] = true
	}
	if len(got) != len(msgs) || len(used) < 2 {
		t.Fatalf("%d messages on %d partitions, want %d on several", len(got), len(used), len(msgs))
	}
}

// A message over MaxMessageBytes is refused as too large (ingest answers 413
// too_large_for_broker), at once and without reaching the topic.
func TestBatchPublisherRefusesAMessageTooLarge(t *testing.T) {
	broker, topic := testenv.Broker(t), testenv.Topic(t)
	pub, err := kafka.NewBatchPublisher(kafka.BatchPublisherConfig{Brokers: []string{broker}, ClientID: "test", MaxMessageBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	small := message.NewMessage("u-small", []byte(`{}`))
	big := message.NewMessage("u-big", make([]byte, 8192))
	if err := pub.Publish(topic, small); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(topic, big); !errors.Is(err, kafka.ErrMessageTooLarge) {
		t.Fatalf("Publish of 8 KiB with a 4 KiB limit = %v, want ErrMessageTooLarge", err)
	}
	got := testenv.TopicMessages(t, []string{broker}, topic)
	if len(got) != 1 {
		t.Fatalf("topic holds %d messages, want only the small one", len(got))
	}
}
