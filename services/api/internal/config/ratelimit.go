package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// validateRateLimits checks API_RATE_PER_* and API_TRUSTED_PROXIES.
func (c Config) validateRateLimits() []error {
	var errs []error
	for _, l := range []struct {
		name, burstName string
		rate            float64
		burst           int
	}{
		{"API_RATE_PER_KEY_RPS", "API_RATE_PER_KEY_BURST", c.RatePerKey, c.RatePerKeyBurst},
		{"API_RATE_PER_ADDRESS_RPS", "API_RATE_PER_ADDRESS_BURST", c.RatePerAddr, c.RatePerAddrBurst},
	} {
		switch {
		case l.rate < 0:
			errs = append(errs, fmt.Errorf("%s must be 0 (off) or a positive number of requests per second", l.name))
		case l.rate > 0 && l.burst < 1:
			errs = append(errs, fmt.Errorf("%s must be at least 1 when %s is on", l.burstName, l.name))
		}
	}
	if _, err := parsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("API_TRUSTED_PROXIES: %w", err))
	}
	return errs
}

// TrustedProxyPrefixes is API_TRUSTED_PROXIES parsed (Validate has checked
// it; an entry that does not parse is left out).
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	p, _ := parsePrefixes(c.TrustedProxies)
	return p
}

// parsePrefixes reads CIDRs and bare addresses (a /32 or /128).
func parsePrefixes(in []string) ([]netip.Prefix, error) {
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
