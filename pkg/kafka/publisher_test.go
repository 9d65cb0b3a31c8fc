package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

func event(t testing.TB, i int) *message.Message {
	t.Helper()
	body := fmt.Appendf(nil, `{"id":"evt_%d","object":"event","type":"charge.succeeded","created":1700000000,"livemode":false,"data":{"object":{"id":"ch_%d","object":"charge","payment_intent":"pi_%d"}}}`, i, i%7, i%7)
	env, err := stripeevent.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	return kafka.NewEventMessage(body, env, time.Unix(1700000001, 0))
}

// The wire format: the body byte for byte, keyed by the object id, the
// contract's headers and watermill's UUID; decoding gives them back.
func TestEventMessageOnTheWire(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	msg := event(t, 1)
	if err := pub.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}
	got := testenv.TopicMessages(t, brokers, topic)
	if len(got) != 1 {
		t.Fatalf("%d messages on the topic, want 1", len(got))
	}
	m := got[0]
	if string(m.Value) != string(msg.Payload) || string(m.Key) != "ch_1" {
		t.Fatalf("value %q key %q; want the body and ch_1", m.Value, m.Key)
	}
	headers := map[string]string{}
	for _, h := range m.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	want := []string{wmkafka.UUIDHeaderKey, kafka.HeaderEventID, kafka.HeaderEventType, kafka.HeaderObjectID,
		kafka.HeaderObjectType, kafka.HeaderRelatedIDs, kafka.HeaderLivemode, kafka.HeaderReceivedAt}
	if len(headers) != len(want) {
		t.Errorf("headers %v; want exactly %v", headers, want)
	}
	for _, k := range want {
		if _, ok := headers[k]; !ok {
			t.Errorf("header %s missing from %v", k, headers)
		}
	}
	if headers[kafka.HeaderRelatedIDs] != "pi_1" || headers[wmkafka.UUIDHeaderKey] != msg.UUID {
		t.Errorf("related_ids %q uuid %q", headers[kafka.HeaderRelatedIDs], headers[wmkafka.UUIDHeaderKey])
	}
}

// A publish whose deadline passes answers at once with the deadline's
// cause; the abandoned publish gives up on its own within seconds, and
// Close, which waits for it, is not a data race (-race).
func TestPublishAbandonedAtDeadline(t *testing.T) {
	br, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	topic := testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: []string{br.Addr()}, ClientID: "test"}, nil)
	if err != nil {
		br.Close()
		t.Fatal(err)
	}
	if err := pub.Publish(topic, event(t, 1)); err != nil {
		t.Fatal(err)
	}
	br.Close() // the broker is gone

	cause := errors.New("answer by now")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeoutCause(context.Background(), 200*time.Millisecond, cause)
			defer cancel()
			msg := event(t, i)
			msg.SetContext(ctx)
			start := time.Now()
			err := pub.Publish(topic, msg)
			if err == nil {
				t.Error("publish to a dead broker succeeded")
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("publish returned after %s; want at its 200 ms deadline", took)
			}
		}()
	}
	wg.Wait()
	closed := make(chan error, 1)
	start := time.Now()
	go func() { closed <- pub.Close() }()
	select {
	case <-closed:
		t.Logf("Close returned %s after the abandoned publishes", time.Since(start))
	case <-time.After(30 * time.Second):
		t.Fatal("abandoned publishes still running 30 s later")
	}
	if err := pub.Publish(topic, event(t, 9)); !errors.Is(err, kafka.ErrPublisherClosed) {
		t.Fatalf("publish after Close: %v; want ErrPublisherClosed", err)
	}
}

func TestPublishCauseIsTheDeadlines(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	cause := errors.New("too late")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	msg := event(t, 1)
	msg.SetContext(ctx)
	if err := pub.Publish(topic, msg); !errors.Is(err, cause) {
		t.Fatalf("publish with an ended context: %v; want its cause", err)
	}
}

func TestMessageTooLarge(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "test", MaxMessageBytes: 1000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	msg := message.NewMessage(watermill.NewUUID(), make([]byte, 2000))
	if err := pub.Publish(topic, msg); !errors.Is(err, kafka.ErrMessageTooLarge) {
		t.Fatalf("publish of 2000 bytes with a 1000-byte limit: %v; want ErrMessageTooLarge", err)
	}
}

// A Subscriber whose group's offsets were set by time reads exactly what
// came after that time; the group can then be deleted.
func TestSubscriberStartsAtOffsetsByTime(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	for i := range 10 {
		if err := pub.Publish(topic, event(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // broker timestamps are in milliseconds
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	want := map[string]bool{}
	for i := 10; i < 20; i++ {
		msg := event(t, i)
		want[msg.Metadata.Get(kafka.HeaderEventID)] = true
		if err := pub.Publish(topic, msg); err != nil {
			t.Fatal(err)
		}
	}

	admin, err := kafka.NewAdmin(brokers, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	offsets, err := admin.OffsetsAt(topic, since)
	if err != nil {
		t.Fatal(err)
	}
	group := "test-" + topic
	if err := admin.SetGroupOffsets(group, topic, offsets); err != nil {
		t.Fatal(err)
	}
	got, err := admin.GroupOffsets(group, topic)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(offsets) {
		t.Fatalf("group offsets %v, %v; want %v", got, err, offsets)
	}

	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{Brokers: brokers, ClientID: "test", Group: group}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for len(want) > 0 {
		select {
		case m := <-msgs:
			ev, err := kafka.DecodeEvent(m)
			if err != nil {
				t.Fatal(err)
			}
			if !want[ev.ID] {
				t.Fatalf("read %s (partition %d offset %d), from before the start or twice", ev.ID, ev.Partition, ev.Offset)
			}
			if ev.Offset < offsets[ev.Partition] {
				t.Fatalf("%s at offset %d, before the start %d", ev.ID, ev.Offset, offsets[ev.Partition])
			}
			delete(want, ev.ID)
			m.Ack()
		case <-ctx.Done():
			t.Fatalf("still missing %v", want)
		}
	}
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteGroup(group); err != nil {
		t.Fatal(err)
	}
	if got, err := admin.GroupOffsets(group, topic); err != nil || len(got) != 0 {
		t.Fatalf("offsets of a deleted group: %v, %v", got, err)
	}
}
