package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Load is the shape of a run: how many senders, how fast, for how long.
type Load struct {
	Concurrency int           // senders in parallel (closed loop)
	Rate        float64       // if > 0, requests per second in total (open loop), instead of as fast as possible
	Duration    time.Duration // how long to send
	Count       int           // if > 0, stop after this many requests
}

// Result is what a run saw.
type Result struct {
	Sent      int         `json:"sent"`
	Accepted  int         `json:"accepted"` // 2xx
	Statuses  map[int]int `json:"statuses"`
	Errors    int         `json:"errors"`                // no HTTP answer
	FirstErr  string      `json:"first_error,omitempty"` // why the first of them had none
	Seconds   float64     `json:"seconds"`
	PerSecond float64     `json:"accepted_per_second"`
	Latency   Summary     `json:"latency"`
}

// Run calls do under the load and collects what it answered: an HTTP status,
// or an error when there was no answer.
func Run(ctx context.Context, load Load, do func(ctx context.Context) (int, error)) Result {
	if load.Concurrency <= 0 {
		load.Concurrency = 1
	}
	if load.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, load.Duration)
		defer cancel()
	}
	var (
		lat        Latencies
		mu         sync.Mutex
		statuses   = map[int]int{}
		firstErr   string // under mu
		sent, errs atomic.Int64
		started    atomic.Int64
		wg         sync.WaitGroup
		slot       atomic.Int64 // open loop: the next request's place in the schedule
		start      = time.Now()
	)
	for range load.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if load.Count > 0 && started.Add(1) > int64(load.Count) {
					return
				}
				if load.Rate > 0 {
					// Request i goes at start + i/rate, however late the others
					// are: an open loop does not slow down when the server does.
					at := start.Add(time.Duration(float64(slot.Add(1)-1) * float64(time.Second) / load.Rate))
					select {
					case <-time.After(time.Until(at)):
					case <-ctx.Done():
						return
					}
				}
				t0 := time.Now()
				status, err := do(ctx)
				if err != nil && ctx.Err() != nil {
					return // the run ended mid-request: not a result
				}
				sent.Add(1)
				if err != nil {
					if errs.Add(1) == 1 {
						mu.Lock()
						firstErr = err.Error()
						mu.Unlock()
					}
					continue
				}
				lat.Add(time.Since(t0))
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	res := Result{Sent: int(sent.Load()), Statuses: statuses, Errors: int(errs.Load()), FirstErr: firstErr,
		Seconds: time.Since(start).Seconds(), Latency: lat.Summary()}
	for s, n := range statuses {
		if s/100 == 2 {
			res.Accepted += n
		}
	}
	res.PerSecond = float64(res.Accepted) / res.Seconds
	return res
}

func (r Result) String() string {
	s := fmt.Sprintf("sent %d, accepted %d (%.0f/s), statuses %v, errors %d, p50 %.2f ms, p99 %.2f ms",
		r.Sent, r.Accepted, r.PerSecond, r.Statuses, r.Errors, r.Latency.P50, r.Latency.P99)
	if r.FirstErr != "" {
		s += " (first error: " + r.FirstErr + ")"
	}
	return s
}

// WebhookConfig says how to send webhooks to an ingest endpoint.
type WebhookConfig struct {
	Load
	URL    string // e.g. http://127.0.0.1:8081/webhooks/stripe
	Secret string // the endpoint's signing secret
	// Next returns the event to send; nil cycles through Pool events made by
	// a Generator of Seed before the clock starts (generating an event costs
	// more CPU than verifying it: done during the run, it would be the load
	// generator that is measured).
	Next func() Event
	Seed uint64
	Pool int // default DefaultPool
	// OnSent is called after each answer (for end-to-end bookkeeping).
	OnSent func(ev Event, status int)
}

// DefaultPool is how many distinct events a run cycles through.
const DefaultPool = 20_000

// Cycle returns the events a run of seed sends, in order, before they repeat:
// pool of them (DefaultPool when 0), or count when that is fewer.
func Cycle(seed uint64, pool, count int) []Event {
	if pool <= 0 {
		pool = DefaultPool
	}
	if count > 0 {
		pool = min(pool, count)
	}
	return Seeded(seed).Events(pool)
}

// NewClient is an HTTP client that keeps a connection per sender.
func NewClient(concurrency int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: concurrency, MaxConnsPerHost: concurrency},
		Timeout:   30 * time.Second,
	}
}

// SendWebhooks sends signed webhooks under cfg's load.
func SendWebhooks(ctx context.Context, cfg WebhookConfig) (Result, error) {
	sign := func(ev Event) string { return stripeevent.Sign(ev.Body, time.Now(), cfg.Secret) }
	next := func() (Event, string) { ev := cfg.Next(); return ev, sign(ev) }
	if cfg.Next == nil {
		// The pool is signed before the clock starts: signing is Stripe's
		// cost, and an HMAC per request would be CPU the load generator
		// takes from the service it measures.
		pool := Cycle(cfg.Seed, cfg.Pool, cfg.Count)
		signedAt, sigs := time.Now(), make([]string, len(pool))
		for i, ev := range pool {
			sigs[i] = stripeevent.Sign(ev.Body, signedAt, cfg.Secret)
		}
		var i atomic.Int64
		next = func() (Event, string) {
			k := int(i.Add(1)-1) % len(pool)
			if time.Since(signedAt) > resignAfter {
				return pool[k], sign(pool[k])
			}
			return pool[k], sigs[k]
		}
	}
	post, closeFn, err := webhookPoster(cfg.URL, cfg.Concurrency)
	if err != nil {
		return Result{}, err
	}
	defer closeFn()
	return Run(ctx, cfg.Load, func(ctx context.Context) (int, error) {
		ev, sig := next()
		status, err := post(ctx, []string{
			"Content-Type: application/json; charset=utf-8",
			"User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)",
			"Stripe-Signature: " + sig,
		}, ev.Body)
		if err == nil && cfg.OnSent != nil {
			cfg.OnSent(ev, status)
		}
		return status, err
	}), nil
}

// resignAfter is the age past which the pool's signatures are made afresh
// for each request, well inside ingest's tolerance (300 s by default).
const resignAfter = time.Minute

// webhookPoster posts through a Poster for http:// URLs, and through
// net/http's client otherwise (TLS).
func webhookPoster(rawURL string, concurrency int) (post func(ctx context.Context, header []string, body []byte) (int, error), closeFn func(), err error) {
	if strings.HasPrefix(rawURL, "http://") {
		p, err := NewPoster(rawURL, concurrency)
		if err != nil {
			return nil, nil, err
		}
		return p.Post, p.Close, nil
	}
	client := NewClient(concurrency)
	return func(ctx context.Context, header []string, body []byte) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		for _, h := range header {
			k, v, _ := strings.Cut(h, ": ")
			req.Header.Set(k, v)
		}
		return status(client, req)
	}, client.CloseIdleConnections, nil
}

// status sends req and returns the answer's status, the body read and
// discarded so the connection is reused.
func status(c *http.Client, req *http.Request) (int, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
