package httpapi

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterSetIsBounded(t *testing.T) {
	s := newLimiterSet(RateLimit{Rate: 1, Burst: 1}, 3)
	now := time.Unix(1_000_000, 0)
	for i := range 10 {
		if d := s.take(fmt.Sprint("addr", i), now); d != 0 {
			t.Fatalf("first request of addr%d refused (%s)", i, d)
		}
	}
	if n := s.len(); n != 3 {
		t.Fatalf("%d limiters kept, want at most 3", n)
	}
	// The most recent keys are kept, with their spent buckets.
	if d := s.take("addr9", now); d <= 0 {
		t.Fatalf("addr9's second request at once was let through")
	}
	// Idle entries go once their bucket is full again (and minIdle passed).
	if d := s.take("fresh", now.Add(minIdle+time.Second)); d != 0 {
		t.Fatal("a new key was refused")
	}
	if n := s.len(); n != 1 {
		t.Fatalf("%d limiters kept after every other went idle, want 1", n)
	}
}

func TestLimiterSetOff(t *testing.T) {
	for _, l := range []RateLimit{{0, 10}, {-1, 10}, {5, 0}} {
		if s := newLimiterSet(l, 10); s != nil {
			t.Errorf("%+v: a limiter set, want none", l)
		}
	}
	var s *limiterSet
	if s.take("x", time.Now()) != 0 {
		t.Fatal("a nil set refused a request")
	}
}

func TestRateErrorRetryAfter(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Millisecond: "1", 1500 * time.Millisecond: "2", 10 * time.Second: "10"} {
		if got := (rateError{scopeAddr, d}).retryAfter(); got != want {
			t.Errorf("wait %s: Retry-After %s, want %s", d, got, want)
		}
	}
}
