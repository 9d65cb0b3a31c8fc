package httpapi

import (
	"fmt"
	"net/http/httptest"
	"net/netip"
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

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		remote, xff, want string
	}{
		{"203.0.113.5:4000", "1.2.3.4", "203.0.113.5"},                   // untrusted peer: header ignored
		{"10.0.0.1:4000", "", "10.0.0.1"},                                // trusted peer, no header
		{"10.0.0.1:4000", "1.2.3.4", "1.2.3.4"},                          // one proxy
		{"10.0.0.1:4000", "9.9.9.9, 1.2.3.4, 10.2.2.2", "1.2.3.4"},       // two proxies; the spoofed left entry is ignored
		{"10.0.0.1:4000", "10.3.3.3, 10.2.2.2", "10.3.3.3"},              // all trusted: the leftmost
		{"10.0.0.1:4000", "1.2.3.4, garbage", "10.0.0.1"},                // garbage ends the walk at the last good hop
		{"[::1]:4000", "2001:db8::1", "2001:db8::1"},                     // IPv6 proxy
		{"10.0.0.1:4000", "[2001:db8::2]:55, ::ffff:1.2.3.4", "1.2.3.4"}, // mapped IPv4
	} {
		r := httptest.NewRequest("POST", "/Stripe/charge", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := clientAddr(r, trusted); got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if a, b := addrKey(netip.MustParseAddr("2001:db8::1")), addrKey(netip.MustParseAddr("2001:db8::ffff")); a != b {
		t.Errorf("one /64, two buckets: %s, %s", a, b)
	}
}
