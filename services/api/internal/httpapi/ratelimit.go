package httpapi

import (
	"container/list"
	"crypto/sha256"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/stripeline/stripeline/pkg/clientaddr"
)

// RateLimit is a token bucket: Rate requests per second on average, Burst
// at once. A Rate of 0 (or less) turns the limit off.
type RateLimit struct {
	Rate  float64
	Burst int
}

func (l RateLimit) on() bool { return l.Rate > 0 && l.Burst > 0 }

// maxLimiters bounds each limiter set: about 200 bytes an entry, so some
// 20 MB at most per set however many addresses a flood comes from.
const maxLimiters = 100_000

// minIdle is how long an unused limiter is kept at least; it is also kept
// until its bucket would be full again, so dropping it forgets nothing.
const minIdle = 3 * time.Minute

const (
	scopeKey  = "api_key"
	scopeAddr = "address"
)

// limiterSet is one token bucket per client (an API key's digest, an
// address), least recently used first out: idle entries are dropped as
// soon as they are full again, and past maxLimiters the least recently
// used one goes, so a flood of addresses cannot grow memory without bound.
type limiterSet struct {
	limit rate.Limit
	burst int
	idle  time.Duration
	max   int

	mu  sync.Mutex
	lru *list.List // of *limiterEntry, most recently used in front
	m   map[string]*list.Element
}

type limiterEntry struct {
	key  string
	lim  *rate.Limiter
	seen time.Time
}

// newLimiterSet is nil, no limit, when l is off.
func newLimiterSet(l RateLimit, size int) *limiterSet {
	if !l.on() {
		return nil
	}
	refill := time.Duration(float64(l.Burst) / l.Rate * float64(time.Second))
	if refill <= 0 || refill > 24*time.Hour { // overflow or a near-zero rate
		refill = 24 * time.Hour
	}
	return &limiterSet{
		limit: rate.Limit(l.Rate), burst: l.Burst, idle: max(minIdle, refill), max: size,
		lru: list.New(), m: map[string]*list.Element{},
	}
}

// take spends one token of key's bucket. It answers 0 when the request may
// go, else how long until it could: the request is then refused and spends
// nothing.
func (s *limiterSet) take(key string, now time.Time) time.Duration {
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for e := s.lru.Back(); e != nil && now.Sub(e.Value.(*limiterEntry).seen) > s.idle; e = s.lru.Back() {
		s.remove(e)
	}
	e, ok := s.m[key]
	if ok {
		s.lru.MoveToFront(e)
	} else {
		for s.lru.Len() >= s.max {
			s.remove(s.lru.Back())
		}
		e = s.lru.PushFront(&limiterEntry{key: key, lim: rate.NewLimiter(s.limit, s.burst)})
		s.m[key] = e
	}
	ent := e.Value.(*limiterEntry)
	ent.seen = now
	r := ent.lim.ReserveN(now, 1)
	if !r.OK() {
		return time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}

func (s *limiterSet) remove(e *list.Element) {
	delete(s.m, e.Value.(*limiterEntry).key)
	s.lru.Remove(e)
}

func (s *limiterSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Len()
}

// rateError is a request refused by one of the api's own rate limits.
type rateError struct {
	scope string
	wait  time.Duration
}

func (e rateError) Error() string {
	who := "this address"
	if e.scope == scopeKey {
		who = "this API key"
	}
	return "too many payment requests from " + who + "; retry after " + e.retryAfter() + " s"
}

// retryAfter is the wait in whole seconds, at least 1.
func (e rateError) retryAfter() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.wait.Seconds()))))
}

// limited applies the per-address, then the per-key limit. It runs after
// authentication, so only valid keys get buckets.
func (h *Handler) limited(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		if h.perAddr != nil {
			if d := h.perAddr.take(clientaddr.Key(clientaddr.Of(r, h.cfg.TrustedProxies)), now); d > 0 {
				h.metrics.RateLimited.WithLabelValues(scopeAddr).Inc()
				h.fail(w, r, rateError{scopeAddr, d})
				return
			}
		}
		if h.perKey != nil {
			if d := h.perKey.take(keyID(r), now); d > 0 {
				h.metrics.RateLimited.WithLabelValues(scopeKey).Inc()
				h.fail(w, r, rateError{scopeKey, d})
				return
			}
		}
		next(w, r)
	}
}

// keyID is the digest of the API key a request presents (the path's, else
// the header's; authentication has checked both): the limiter holds no key.
// Without authentication, requests with no key share one bucket.
func keyID(r *http.Request) string {
	key := r.PathValue("apiKey")
	if key == "" {
		key = r.Header.Get("X-API-Key")
	}
	d := sha256.Sum256([]byte(key))
	return string(d[:])
}
