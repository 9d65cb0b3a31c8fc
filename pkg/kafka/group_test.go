package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/tools/testenv"
)

// A group whose offsets were set is Empty until a Subscriber joins it, has
// that member while it runs, is Empty again once it closed, and Dead once
// deleted.
func TestDescribeGroups(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	admin, err := kafka.NewAdmin(brokers, "test")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ends, err := admin.EndOffsets(topic)
	if err != nil {
		t.Fatal(err)
	}
	group, never := "test-"+topic, "never-"+topic
	if err := admin.SetGroupOffsets(group, topic, ends); err != nil {
		t.Fatal(err)
	}
	state := func(want func(kafka.GroupState) bool) error {
		got, err := admin.DescribeGroups(group, never)
		if err != nil {
			return err
		}
		if !got[never].Empty() || got[never].State != "Dead" {
			return fmt.Errorf("a group that never existed: %+v; want Dead and empty", got[never])
		}
		if !want(got[group]) {
			return fmt.Errorf("group %+v", got[group])
		}
		return nil
	}
	if err := state(func(s kafka.GroupState) bool { return s.Empty() && s.State == "Empty" }); err != nil {
		t.Fatalf("before a member joined: %v", err)
	}

	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{Brokers: brokers, ClientID: "test", Group: group}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := sub.Subscribe(ctx, topic); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		return state(func(s kafka.GroupState) bool { return !s.Empty() && s.Members == 1 })
	})
	if err := sub.Close(); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		return state(func(s kafka.GroupState) bool { return s.Empty() && s.State == "Empty" })
	})
	if err := admin.DeleteGroup(group); err != nil {
		t.Fatal(err)
	}
	if err := state(func(s kafka.GroupState) bool { return s.Empty() && s.State == "Dead" }); err != nil {
		t.Fatalf("after DeleteGroup: %v", err)
	}
}
