package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/loadgen"
)

// TestLoadGeneratorEndToEnd runs the benchmark's end-to-end measurement at a
// small size: every accepted webhook reaches its subscriber, and the load
// generator counts it so.
func TestLoadGeneratorEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := loadgen.EndToEnd(ctx, loadgen.EndToEndConfig{
		IngestURL:   stack.URL("webhook-ingest") + "/webhooks/stripe",
		Secret:      stack.Config.WebhookSecret,
		NotifierURL: "ws://" + stack.Config.Addrs["notifier"] + "/ws",
		Token:       func(id string) string { return mintToken(t, id) },
		Subscribers: 20,
		Rate:        100,
		Concurrency: 8,
		Duration:    2 * time.Second,
		Drain:       20 * time.Second,
		Seed:        42,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Send.Accepted == 0 || res.Send.Accepted != res.Send.Sent {
		t.Fatalf("webhooks: %s; want every one accepted", res.Send)
	}
	if res.Missing != 0 || res.Delivered != res.Send.Accepted || res.Latency.Count != res.Delivered {
		t.Fatalf("delivered %d of %d accepted (%d missing, %d latencies)", res.Delivered, res.Send.Accepted, res.Missing, res.Latency.Count)
	}
}
