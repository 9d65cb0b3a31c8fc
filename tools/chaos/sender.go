package chaos

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// sender delivers webhooks the way Stripe does: each event on its own, signed
// afresh on every attempt, retried with exponential backoff until a 2xx.
// Stripe retries for days; here the backoff is capped so the run ends.
type sender struct {
	url, secret string
	maxBackoff  time.Duration
	client      *http.Client

	attempts atomic.Int64 // every POST
	failed   atomic.Int64 // answers that were not 2xx, and no answer at all

	mu       sync.Mutex
	events   map[string]*sentEvent
	order    []*sentEvent // in the order they were generated
	okTimes  []time.Time  // every 2xx answer, for "first 2xx after the fault"
	onAccept func(ev *sentEvent)

	dupSent, dupAccepted atomic.Int64
	inflight             sync.WaitGroup
}

// sentEvent is one generated event and what became of it.
type sentEvent struct {
	loadgen.Event
	Subscriber string    // the transaction a subscriber follows, or ""
	Accepted   time.Time // the first 2xx; zero while not accepted
}

func newSender(url, secret string, maxBackoff time.Duration) *sender {
	return &sender{
		url: url, secret: secret, maxBackoff: maxBackoff,
		client: &http.Client{
			Transport: &http.Transport{MaxIdleConnsPerHost: 64},
			Timeout:   15 * time.Second,
		},
		events: map[string]*sentEvent{},
	}
}

// stream sends events at rate until ctx ends or more() says stop; every
// event is delivered in a goroutine of its own, so a stuck one does not
// delay the stream. deliverCtx bounds the retries.
func (s *sender) stream(ctx, deliverCtx context.Context, rate float64, next func() *sentEvent, more func(sent int) bool) {
	start := time.Now()
	for i := 0; more(i); i++ {
		at := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(at)):
		}
		ev := next()
		s.mu.Lock()
		s.events[ev.ID] = ev
		s.order = append(s.order, ev)
		s.mu.Unlock()
		s.inflight.Go(func() { s.deliver(deliverCtx, ev, false) })
	}
}

// deliver posts ev until it gets a 2xx or ctx ends.
func (s *sender) deliver(ctx context.Context, ev *sentEvent, duplicate bool) bool {
	if duplicate {
		s.dupSent.Add(1)
	}
	backoff := 50 * time.Millisecond
	rng := rand.New(rand.NewPCG(uint64(len(ev.ID)), uint64(time.Now().UnixNano())))
	for ctx.Err() == nil {
		status, err := s.post(ctx, ev.Body)
		s.attempts.Add(1)
		if err == nil && status/100 == 2 {
			now := time.Now()
			s.mu.Lock()
			s.okTimes = append(s.okTimes, now)
			first := ev.Accepted.IsZero()
			if first {
				ev.Accepted = now
			}
			cb := s.onAccept
			s.mu.Unlock()
			if first && cb != nil {
				cb(ev)
			}
			if duplicate {
				s.dupAccepted.Add(1)
			}
			return true
		}
		s.failed.Add(1)
		// Full jitter, as Stripe's retries are spread: half the backoff plus
		// a random share of the other half.
		wait := backoff/2 + time.Duration(rng.Int64N(int64(backoff/2)+1))
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		backoff = min(backoff*2, s.maxBackoff)
	}
	return false
}

func (s *sender) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "Stripe/1.0 (+https://stripe.com/docs/webhooks)")
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), s.secret))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// firstOKAfter is the time of the first 2xx answer after t, or zero.
func (s *sender) firstOKAfter(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	var first time.Time
	for i := len(s.okTimes) - 1; i >= 0; i-- {
		at := s.okTimes[i]
		if at.After(t) && (first.IsZero() || at.Before(first)) {
			first = at
		}
		// Answers are appended roughly in time order; far enough back, stop.
		if at.Before(t.Add(-time.Minute)) {
			break
		}
	}
	return first
}

// accepted returns the events accepted so far, in generation order.
func (s *sender) accepted() []*sentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sentEvent
	for _, ev := range s.order {
		if !ev.Accepted.IsZero() {
			out = append(out, ev)
		}
	}
	return out
}

// snapshot returns every event generated so far and its acceptance time, in
// generation order, copied so the caller can read them without the lock.
func (s *sender) snapshot() []sentEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]sentEvent, len(s.order))
	for i, ev := range s.order {
		out[i] = *ev
	}
	return out
}
