package config

import (
	"fmt"
	"net/netip"

	"github.com/stripeline/stripeline/pkg/clientaddr"
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
	if _, err := clientaddr.ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("API_TRUSTED_PROXIES: %w", err))
	}
	return errs
}

// TrustedProxyPrefixes is API_TRUSTED_PROXIES parsed (Validate has checked
// it; an entry that does not parse is left out).
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	p, _ := clientaddr.ParsePrefixes(c.TrustedProxies)
	return p
}
