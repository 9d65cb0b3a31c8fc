// Package config is the api's settings, read from the environment in one place.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/secret"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// Config is every setting of the api.
type Config struct {
	Addr string `env:"API_ADDR, default=127.0.0.1:8080" help:"listen address of the payment routes"`
	// OpsAddr is the ops listener: /healthz, the detailed /readyz and
	// /metrics (pkg/httpserver.OpsHandler). Loopback by default; a
	// container sets 0.0.0.0:9080 so that probes and scrapers reach it.
	OpsAddr  string `env:"API_OPS_ADDR, default=127.0.0.1:9080" help:"listen address of /healthz, /readyz and /metrics; loopback by default, 0.0.0.0:9080 in a container"`
	Log      logging.Config
	Database pgstore.Config
	Tracing  tracing.Config

	// StripeSecretKey is an sk_ or rk_ key of at least secret.MinStripeKey
	// characters, no placeholder (secret.Check).
	StripeSecretKey      string `env:"STRIPE_SECRET_KEY" help:"Stripe secret (sk_…) or restricted (rk_…) key the api charges with; required"`
	StripePublishableKey string `env:"STRIPE_PUBLISHABLE_KEY" help:"Stripe publishable key (pk_…) served to browsers by GET /Stripe/config; never a secret key"`
	StripeCurrency       string `env:"STRIPE_CURRENCY, default=usd" help:"the 3-letter ISO currency of a request that names none"`
	// StripeCurrencies is the allow-list a request's currency must be in;
	// empty means only StripeCurrency.
	StripeCurrencies []string `env:"STRIPE_CURRENCIES" help:"comma-separated currencies a request may use; empty allows only STRIPE_CURRENCY"`
	// StripeAPIBase is Stripe's API or a compatible server such as stripe-mock.
	StripeAPIBase string `env:"STRIPE_API_BASE, default=https://api.stripe.com" help:"Stripe's API, or a compatible server such as stripe-mock"`
	// StripeTimeout bounds one call to Stripe, retries included; past it the
	// client gets a 504. A request makes one call, so it is also about the
	// longest a handler takes: WriteTimeout must exceed it.
	StripeTimeout time.Duration `env:"STRIPE_TIMEOUT, default=30s" help:"bounds one call to Stripe, retries included; past it the client gets a 504 (API_WRITE_TIMEOUT must exceed it)"`

	// APIKeys are the keys clients present in X-API-Key or the Backendless
	// path. Required unless AuthDisabled says, explicitly, to serve without;
	// each passes secret.Check (at least secret.MinAPIKey characters).
	APIKeys []string `env:"API_KEYS" help:"comma-separated keys clients send in X-API-Key; required unless API_AUTH_DISABLED=true"`
	// AdminAPIKeys are the shop servers' keys for the routes that move
	// money back or settle an authorization (refunds, capture, cancel).
	// They are taken from X-API-Key only, never a URL; a client key there
	// gets 403. Empty: those routes refuse every request.
	AdminAPIKeys []string `env:"ADMIN_API_KEYS, default=" help:"comma-separated server keys for refunds, capture and cancel, sent in X-API-Key only (a client key gets 403); empty turns those routes off"`
	AuthDisabled bool     `env:"API_AUTH_DISABLED, default=false" help:"true serves without API keys (local use only)"`
	// CORSOrigins are the browser origins allowed to call the api; "*" is any.
	CORSOrigins []string `env:"API_CORS_ORIGINS" help:"comma-separated browser origins allowed to call the api; * is any"`
	// EventsRequireToken makes GET /Stripe/events ask, besides the API key,
	// for the subscription token of the transaction it reads.
	EventsRequireToken bool `env:"API_EVENTS_REQUIRE_TOKEN, default=true" help:"GET /Stripe/events and GET /Stripe/transactions/{id} ask, besides the API key, for the subscription token of the transaction they read"`

	// Demo serves the demo checkout page (/demo/, services/api/internal/demo):
	// for trying the loop on one's own machine, off in production.
	Demo bool `env:"API_DEMO, default=false" help:"true serves the demo checkout page at /demo (make run turns it on); off in production"`
	// DemoNotifierURL is the notifier's websocket as the demo page's browser
	// reaches it; the notifier must allow the api's origin
	// (NOTIFIER_ALLOWED_ORIGINS).
	DemoNotifierURL string `env:"API_DEMO_NOTIFIER_URL, default=ws://127.0.0.1:8082/ws" help:"the notifier's websocket URL the demo page connects to (ws:// or wss://); only with API_DEMO=true"`

	// SubscriptionTokenSecret signs subscription tokens, which the notifier
	// verifies with the same value: one secret, or key-id:secret pairs of
	// which the first signs and all verify (subtoken.ParseKeys), each at
	// least secret.MinTokenSecret characters.
	SubscriptionTokenSecret string        `env:"SUBSCRIPTION_TOKEN_SECRET" help:"signs the subscription tokens the notifier verifies (the same value there): one secret, or comma-separated keyid:secret pairs, the first signs and all verify; required"`
	SubscriptionTokenTTL    time.Duration `env:"SUBSCRIPTION_TOKEN_TTL, default=1h" help:"how long a subscription token stays valid"`

	// The HTTP server's limits (pkg/httpserver.Limits; the defaults are
	// DefaultLimits'). ReadTimeout bounds reading a whole request, header
	// and body, from its start.
	ReadTimeout time.Duration `env:"API_READ_TIMEOUT, default=30s" help:"bounds reading a whole request, header and body, from its start"`
	// WriteTimeout bounds the rest, from the end of the header: the handler,
	// its Stripe call (StripeTimeout) and the answer, so it must exceed
	// StripeTimeout.
	WriteTimeout time.Duration `env:"API_WRITE_TIMEOUT, default=60s" help:"bounds the rest of a request from the end of its header: the handler, its Stripe call and the answer; must exceed STRIPE_TIMEOUT"`
	// IdleTimeout bounds a kept-alive connection's wait for its next request.
	IdleTimeout time.Duration `env:"API_IDLE_TIMEOUT, default=2m" help:"bounds a kept-alive connection's wait for its next request"`
	// MaxConnections bounds the connections served at once; the next waits
	// in the kernel's accept queue until one closes.
	MaxConnections int `env:"API_MAX_CONNECTIONS, default=4096" help:"the most connections served at once; the next waits in the kernel's accept queue until one closes"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s" help:"how long a stopping service (SIGINT, SIGTERM) may take to finish the work in flight before it exits"`

	// Rate limits of the payment routes against card testing (docs/security.md):
	// requests per second and burst, per API key and per client address; a
	// rate of 0 turns that limit off.
	RatePerKey       float64 `env:"API_RATE_PER_KEY_RPS, default=20" help:"payment requests per second allowed per API key; 0 turns the limit off"`
	RatePerKeyBurst  int     `env:"API_RATE_PER_KEY_BURST, default=40" help:"burst of payment requests allowed per API key"`
	RatePerAddr      float64 `env:"API_RATE_PER_ADDRESS_RPS, default=2" help:"payment requests per second allowed per client address; 0 turns the limit off"`
	RatePerAddrBurst int     `env:"API_RATE_PER_ADDRESS_BURST, default=10" help:"burst of payment requests allowed per client address"`
	// TrustedProxies are CIDRs (or addresses) of the proxies in front of the
	// api: only from them is X-Forwarded-For believed. Empty: the client
	// address is the TCP peer's.
	TrustedProxies []string `env:"API_TRUSTED_PROXIES, default=" help:"comma-separated CIDRs or addresses of the proxies in front whose X-Forwarded-For is believed; empty: the TCP peer is the client"`
}

// Validate reports every setting that cannot work. No message quotes a
// secret: an operator's log is not the place for one.
func (c Config) Validate() error {
	var errs []error
	if err := secret.Check("STRIPE_SECRET_KEY", c.StripeSecretKey, secret.MinStripeKey); err != nil {
		errs = append(errs, err)
	} else if !strings.HasPrefix(c.StripeSecretKey, "sk_") && !strings.HasPrefix(c.StripeSecretKey, "rk_") {
		errs = append(errs, errors.New("STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key from the Stripe dashboard (stripe-mock takes any sk_test_ key)"))
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
	for i, k := range c.APIKeys {
		if strings.TrimSpace(k) == "" {
			errs = append(errs, errors.New("API_KEYS has an empty key (a stray comma?)"))
		} else if k == c.StripeSecretKey {
			errs = append(errs, errors.New("API_KEYS holds the Stripe secret key; API keys are given to clients and must differ from it"))
		} else if err := secret.Check(fmt.Sprintf("API_KEYS (key %d)", i+1), k, secret.MinAPIKey); err != nil {
			errs = append(errs, err)
		}
	}
	for i, k := range c.AdminAPIKeys {
		switch {
		case strings.TrimSpace(k) == "":
			errs = append(errs, errors.New("ADMIN_API_KEYS has an empty key (a stray comma?)"))
		case k == c.StripeSecretKey:
			errs = append(errs, errors.New("ADMIN_API_KEYS holds the Stripe secret key; admin keys must differ from it"))
		case slices.Contains(c.APIKeys, k):
			errs = append(errs, errors.New("ADMIN_API_KEYS and API_KEYS share a key: client keys ship inside apps, an admin key must not"))
		default:
			if err := secret.Check(fmt.Sprintf("ADMIN_API_KEYS (key %d)", i+1), k, secret.MinAPIKey); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := subtoken.CheckSetting("SUBSCRIPTION_TOKEN_SECRET", c.SubscriptionTokenSecret); err != nil {
		errs = append(errs, fmt.Errorf("%w; the notifier verifies the tokens with the same value", err))
	}
	if c.Demo {
		if u, err := url.Parse(c.DemoNotifierURL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			errs = append(errs, fmt.Errorf("API_DEMO_NOTIFIER_URL: %q is not a ws:// or wss:// URL", c.DemoNotifierURL))
		}
	}
	if c.SubscriptionTokenTTL <= 0 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_TTL must be positive"))
	}
	errs = append(errs, c.Limits().Validate("API_"))
	if c.OpsAddr != "" && c.OpsAddr == c.Addr {
		errs = append(errs, errors.New("API_OPS_ADDR must differ from API_ADDR: the ops endpoints have a listener of their own"))
	}
	errs = append(errs, c.validateRateLimits()...)
	if c.WriteTimeout <= c.StripeTimeout {
		errs = append(errs, fmt.Errorf("API_WRITE_TIMEOUT (%s) must exceed STRIPE_TIMEOUT (%s): a payment's answer, a 504 included, is written after the Stripe call", c.WriteTimeout, c.StripeTimeout))
	}
	return errors.Join(errs...)
}

// Limits are the HTTP server's limits from the settings; the header's read
// timeout is DefaultLimits', or ReadTimeout when that is shorter.
func (c Config) Limits() httpserver.Limits {
	return httpserver.LimitsOf(c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
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

// TokenKeys is SUBSCRIPTION_TOKEN_SECRET parsed (Validate has checked it).
func (c Config) TokenKeys() subtoken.Keys {
	k, _ := subtoken.ParseKeys(c.SubscriptionTokenSecret)
	return k
}
