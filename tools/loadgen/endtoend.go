package loadgen

import (
	"context"
	"fmt"
	"time"
)

// EndToEndConfig measures webhook POST → websocket receipt.
type EndToEndConfig struct {
	IngestURL   string // …/webhooks/stripe
	Secret      string
	NotifierURL string // ws://…/ws
	Token       func(id string) string
	Subscribers int           // connections, each subscribed to a charge of its own
	Rate        float64       // webhooks per second; 0 = as fast as Concurrency allows
	Concurrency int           // senders
	Duration    time.Duration // sending time
	Drain       time.Duration // how long to wait for the last deliveries
	Seed        uint64
}

// EndToEndResult is what came back.
type EndToEndResult struct {
	Subscribers   int     `json:"subscribers"`
	Send          Result  `json:"send"`
	Delivered     int     `json:"delivered"`
	Missing       int     `json:"missing"` // accepted webhooks whose subscriber got nothing
	DeliveriesSec float64 `json:"deliveries_per_second"`
	Latency       Summary `json:"latency"` // POST sent → websocket message received
}

// EndToEnd connects the subscribers, sends charge.succeeded webhooks for
// their charges, and measures the delivery latency of each: SendSpread,
// Receipts and Match, in one process (the notifier-scale bench step runs the
// same pieces across several).
func EndToEnd(ctx context.Context, cfg EndToEndConfig) (EndToEndResult, error) {
	ids := Seeded(cfg.Seed).IDs("ch_", cfg.Subscribers)
	var got Receipts
	subs, err := Connect(ctx, SubscribersConfig{
		URL: cfg.NotifierURL, IDs: ids, Token: cfg.Token,
		OnMessage: func(_, eventID string, at time.Time) { got.Record(eventID, at) },
	})
	if err != nil {
		return EndToEndResult{}, fmt.Errorf("connect subscribers: %w", err)
	}
	defer subs.Close()

	// The events' generator is seeded apart from the ids'.
	sent, err := SendSpread(ctx, SpreadConfig{
		URL: cfg.IngestURL, Secret: cfg.Secret, Targets: [][]string{ids}, Seed: cfg.Seed ^ 0xe2e,
		Load: Load{Concurrency: cfg.Concurrency, Rate: cfg.Rate, Duration: cfg.Duration},
	})
	if err != nil {
		return EndToEndResult{}, err
	}
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) && got.Len() < len(sent.Sent) {
		time.Sleep(20 * time.Millisecond)
	}
	rep := got.Report()
	d := Match(sent.Sent, []ReceiptReport{rep})[0].Delivery()
	res := EndToEndResult{Subscribers: cfg.Subscribers, Send: sent.Send, Delivered: d.Delivered, Missing: d.Missing, Latency: d.Latency}
	var first, last int64
	for _, t := range rep.Received {
		if first == 0 || t < first {
			first = t
		}
		last = max(last, t)
	}
	if span := time.Duration(last - first).Seconds(); span > 0 {
		res.DeliveriesSec = float64(len(rep.Received)) / span
	}
	return res, nil
}
