package kafka_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

// Without a broker, Connecting fails publishes at once and is not ready,
// logging that once; when a broker comes, it connects and publishes.
func TestConnectingWaitsForTheBroker(t *testing.T) {
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	c := kafka.Connect(context.Background(), kafka.PublisherConfig{Brokers: []string{addr}, ClientID: "test"}, nil,
		slog.New(slog.NewTextHandler(&logs, nil)))
	defer c.Close()
	if err := c.Publish("t", event(t, 1)); !errors.Is(err, kafka.ErrNotConnected) {
		t.Fatalf("publish without a broker: %v, want ErrNotConnected", err)
	}
	if c.Ready(context.Background()) == nil {
		t.Fatal("ready without a broker")
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if !strings.Contains(logs.String(), "waiting for a dependency") {
			return errors.New("no log line yet")
		}
		return nil
	})

	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: addr})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testenv.Eventually(t, 30*time.Second, func() error { return c.Ready(context.Background()) })
	if err := c.Publish("t", event(t, 2)); err != nil {
		t.Fatalf("publish once connected: %v", err)
	}
	if n := strings.Count(logs.String(), "waiting for a dependency"); n != 1 {
		t.Errorf("%d 'waiting for kafka' lines, want 1:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "dependency answers") {
		t.Errorf("no 'connected' line:\n%s", logs.String())
	}
}
