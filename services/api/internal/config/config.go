// Package config is the api's settings, read from the environment in one place.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
)

// Config is every setting of the api.
type Config struct {
	Addr     string `env:"API_ADDR, default=127.0.0.1:8080"`
	Log      logging.Config
	Database pgstore.Config

	StripeSecretKey      string `env:"STRIPE_SECRET_KEY"`
	StripePublishableKey string `env:"STRIPE_PUBLISHABLE_KEY"`
	StripeCurrency       string `env:"STRIPE_CURRENCY, default=usd"`
	// StripeCurrencies is the allow-list a request's currency must be in;
	// empty means only StripeCurrency.
	StripeCurrencies []string `env:"STRIPE_CURRENCIES"`
	// StripeAPIBase is Stripe's API or a compatible server such as stripe-mock.
	StripeAPIBase string `env:"STRIPE_API_BASE, default=https://api.stripe.com"`
	// StripeTimeout bounds one call to Stripe, retries included; past it the
	// client gets a 504.
	StripeTimeout time.Duration `env:"STRIPE_TIMEOUT, default=30s"`

	// APIKeys are the keys clients present in X-API-Key or the Backendless
	// path. Required unless AuthDisabled says, explicitly, to serve without.
	APIKeys      []string `env:"API_KEYS"`
	AuthDisabled bool     `env:"API_AUTH_DISABLED, default=false"`
	// CORSOrigins are the browser origins allowed to call the api; "*" is any.
	CORSOrigins []string `env:"API_CORS_ORIGINS"`
	// EventsRequireToken makes GET /Stripe/events ask, besides the API key,
	// for the subscription token of the transaction it reads.
	EventsRequireToken bool `env:"API_EVENTS_REQUIRE_TOKEN, default=true"`

	SubscriptionTokenSecret string        `env:"SUBSCRIPTION_TOKEN_SECRET"`
	SubscriptionTokenTTL    time.Duration `env:"SUBSCRIPTION_TOKEN_TTL, default=1h"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s"`
}

// Validate reports every setting that cannot work. No message quotes a
// secret: an operator's log is not the place for one.
func (c Config) Validate() error {
	var errs []error
	if c.StripeSecretKey == "" {
		errs = append(errs, errors.New("STRIPE_SECRET_KEY is required"))
	}
	// The publishable key is served to anyone by GET /Stripe/config: a secret
	// or restricted key put there by mistake must never go out.
	if k := c.StripePublishableKey; strings.HasPrefix(k, "sk_") || strings.HasPrefix(k, "rk_") || (k != "" && k == c.StripeSecretKey) {
		errs = append(errs, errors.New("STRIPE_PUBLISHABLE_KEY holds a secret key (sk_/rk_); it is served publicly and must be the pk_ key"))
	}
	if !isCurrency(c.StripeCurrency) {
		errs = append(errs, fmt.Errorf("STRIPE_CURRENCY: %q is not a 3-letter ISO currency code", c.StripeCurrency))
	}
	for _, cur := range c.StripeCurrencies {
		if !isCurrency(strings.TrimSpace(cur)) {
			errs = append(errs, fmt.Errorf("STRIPE_CURRENCIES: %q is not a 3-letter ISO currency code", cur))
		}
	}
	if len(c.StripeCurrencies) > 0 && !slices.Contains(c.Currencies(), c.Currency()) {
		errs = append(errs, fmt.Errorf("STRIPE_CURRENCIES must include STRIPE_CURRENCY (%s), the default of every request", c.Currency()))
	}
	if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("STRIPE_API_BASE: %q is not an http(s) URL", c.StripeAPIBase))
	}
	if c.StripeTimeout <= 0 {
		errs = append(errs, errors.New("STRIPE_TIMEOUT must be positive"))
	}
	if len(c.APIKeys) == 0 && !c.AuthDisabled {
		errs = append(errs, errors.New("API_KEYS is required: the keys clients send as X-API-Key (or set API_AUTH_DISABLED=true to serve without authentication, for local use only)"))
	}
	for _, k := range c.APIKeys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("API_KEYS has an empty key (a stray comma?)"))
		} else if k == c.StripeSecretKey {
			errs = append(errs, errors.New("API_KEYS holds the Stripe secret key; API keys are given to clients and must differ from it"))
		}
	}
	if len(c.SubscriptionTokenSecret) < 16 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_SECRET is required, at least 16 characters (shared with the notifier)"))
	}
	if c.SubscriptionTokenTTL <= 0 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_TTL must be positive"))
	}
	return errors.Join(errs...)
}

func isCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for _, r := range strings.ToLower(s) {
		if r < 'a' || r > 'z' {
			return false
		}
	}
	return true
}

// Currency is the configured currency in Stripe's lower-case form.
func (c Config) Currency() string { return strings.ToLower(c.StripeCurrency) }

// Currencies is the allow-list in lower case: STRIPE_CURRENCIES, or the
// default currency alone.
func (c Config) Currencies() []string {
	if len(c.StripeCurrencies) == 0 {
		return []string{c.Currency()}
	}
	out := make([]string, 0, len(c.StripeCurrencies))
	for _, cur := range c.StripeCurrencies {
		out = append(out, strings.ToLower(strings.TrimSpace(cur)))
	}
	return out
}
