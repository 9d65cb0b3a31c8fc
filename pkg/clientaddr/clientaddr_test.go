package clientaddr

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestOf(t *testing.T) {
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
		if got := Of(r, trusted); got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if a, b := Key(netip.MustParseAddr("2001:db8::1")), Key(netip.MustParseAddr("2001:db8::ffff")); a != b {
		t.Errorf("one /64, two keys: %s, %s", a, b)
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes([]string{" 10.1.2.3/8", "192.0.2.7", "", "::ffff:192.0.2.8"})
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("192.0.2.8/32")}
	if err != nil || len(got) != len(want) {
		t.Fatalf("ParsePrefixes = %v, %v", got, err)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("prefix %d = %s, want %s", i, got[i], want[i])
		}
	}
	if _, err := ParsePrefixes([]string{"10.0.0.0/8", "proxy.internal"}); err == nil {
		t.Error("a host name was accepted")
	}
}
