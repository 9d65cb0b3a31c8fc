// Package clientaddr is the address an HTTP request comes from: its TCP peer,
// or, behind proxies the operator lists as trusted, the address those proxies
// name in X-Forwarded-For. The api limits payment requests by it and the
// notifier connections.
package clientaddr

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// ParsePrefixes reads a trusted-proxies setting: CIDRs and bare addresses
// (a /32 or /128). Entries that do not parse are reported and left out.
func ParsePrefixes(in []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("%q is neither a CIDR nor an address", s))
		}
	}
	return out, errors.Join(errs...)
}

// Of is the address r comes from: its direct peer, or, when that peer is a
// trusted proxy, the rightmost address of X-Forwarded-For that is not a
// trusted proxy (everything left of it the client wrote itself). An entry
// that is not an address ends the walk at the last address known good.
func Of(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer, ok := parse(r.RemoteAddr)
	if !ok || !isTrusted(peer, trusted) {
		return peer
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	addr := peer
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parse(strings.TrimSpace(hops[i]))
		if !ok {
			break
		}
		addr = a
		if !isTrusted(a, trusted) {
			break
		}
	}
	return addr
}

// Key is what limits count an address under: IPv4 addresses one by one,
// IPv6 by /64, the block one subscriber gets (else one host could take a
// fresh address, and a fresh count, for every request).
func Key(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// parse reads "ip", "ip:port" or "[ipv6]:port".
func parse(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
