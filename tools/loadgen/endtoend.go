package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
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
// their charges, and measures the delivery latency of each.
func EndToEnd(ctx context.Context, cfg EndToEndConfig) (EndToEndResult, error) {
	g := Seeded(cfg.Seed)
	ids := make([]string, cfg.Subscribers)
	for i := range ids {
		ids[i] = g.ID("ch_")
	}
	var (
		mu       sync.Mutex
		sentAt   = map[string]time.Time{} // event id → POST time
		accepted = map[string]bool{}
		got      = map[string]bool{}
		lat      Latencies
		first    time.Time
		last     time.Time
	)
	subs, err := Connect(ctx, SubscribersConfig{
		URL: cfg.NotifierURL, IDs: ids, Token: cfg.Token,
		OnMessage: func(_, eventID string, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			t0, ok := sentAt[eventID]
			if !ok || got[eventID] {
				return
			}
			got[eventID] = true
			lat.Add(at.Sub(t0))
			if first.IsZero() {
				first = at
			}
			last = at
		},
	})
	if err != nil {
		return EndToEndResult{}, fmt.Errorf("connect subscribers: %w", err)
	}
	defer subs.Close()

	rng := rand.New(rand.NewPCG(cfg.Seed, 99))
	var rmu sync.Mutex
	send, err := SendWebhooks(ctx, WebhookConfig{
		URL: cfg.IngestURL, Secret: cfg.Secret,
		Load: Load{Concurrency: cfg.Concurrency, Rate: cfg.Rate, Duration: cfg.Duration},
		Next: func() Event {
			rmu.Lock()
			id := ids[rng.IntN(len(ids))]
			rmu.Unlock()
			ev := g.Charge("charge.succeeded", id)
			mu.Lock()
			sentAt[ev.ID] = time.Now() // refined in OnSent; set here so a fast delivery is not missed
			mu.Unlock()
			return ev
		},
		OnSent: func(ev Event, status int) {
			if status/100 == 2 {
				mu.Lock()
				accepted[ev.ID] = true
				mu.Unlock()
			}
		},
	})
	if err != nil {
		return EndToEndResult{}, err
	}
	deadline := time.Now().Add(cfg.Drain)
	for time.Now().Before(deadline) {
		mu.Lock()
		done := len(got) >= len(accepted)
		mu.Unlock()
		if done {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	res := EndToEndResult{Subscribers: cfg.Subscribers, Send: send, Latency: lat.Summary()}
	for id := range accepted {
		if got[id] {
			res.Delivered++
		} else {
			res.Missing++
		}
	}
	if span := last.Sub(first).Seconds(); span > 0 {
		res.DeliveriesSec = float64(len(got)) / span
	}
	return res, nil
}
