package config

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/service"
)

// stripeKey is what stripe-mock takes: sk_test_ and 24 characters.
const stripeKey = "sk_test_0123456789abcdefABCDEFGH"

func valid() Config {
	return Config{
		StripeSecretKey: stripeKey, StripePublishableKey: "pk_test_x", StripeCurrency: "usd",
		StripeAPIBase: "http://127.0.0.1:12111", StripeTimeout: time.Second,
		SubscriptionTokenSecret: "0123456789abcdef0123456789abcdef", SubscriptionTokenTTL: time.Hour,
		APIKeys:     []string{"key_0123456789abcdef"},
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxConnections: 4096,
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   string // a piece of the error; empty: valid
	}{
		{"valid", func(*Config) {}, ""},
		{"allow-list with the default", func(c *Config) { c.StripeCurrencies = []string{"EUR", " usd"} }, ""},
		{"secret key as publishable", func(c *Config) { c.StripePublishableKey = "sk_live_abc" }, "STRIPE_PUBLISHABLE_KEY holds a secret key"},
		{"restricted key as publishable", func(c *Config) { c.StripePublishableKey = "rk_test_abc" }, "STRIPE_PUBLISHABLE_KEY holds a secret key"},
		{"allow-list without the default", func(c *Config) { c.StripeCurrencies = []string{"eur"} }, "must include STRIPE_CURRENCY"},
		{"bad currency in allow-list", func(c *Config) { c.StripeCurrencies = []string{"usd", "euro"} }, `STRIPE_CURRENCIES: "euro"`},
		{"stray comma in API_KEYS", func(c *Config) { c.APIKeys = []string{"key_0123456789abcdef", ""} }, "API_KEYS has an empty key"},
		{"secret key as API key", func(c *Config) { c.APIKeys = []string{stripeKey} }, "API_KEYS holds the Stripe secret key"},
		{"no secret key", func(c *Config) { c.StripeSecretKey = "" }, "STRIPE_SECRET_KEY is required"},
		{"old placeholder secret key", func(c *Config) { c.StripeSecretKey = "sk_test_placeholder" }, "STRIPE_SECRET_KEY is a placeholder"},
		{"short secret key", func(c *Config) { c.StripeSecretKey = "sk_test_abc" }, "STRIPE_SECRET_KEY is too short"},
		{"publishable key as secret key", func(c *Config) { c.StripeSecretKey = "pk_test_0123456789abcdef" }, "STRIPE_SECRET_KEY must be a secret (sk_…) or restricted (rk_…) key"},
		{"restricted key", func(c *Config) { c.StripeSecretKey = "rk_live_0123456789abcdef" }, ""},
		{"old placeholder API key", func(c *Config) { c.APIKeys = []string{"placeholder-api-key-change-me"} }, "API_KEYS (key 1) is a placeholder"},
		{"short second API key", func(c *Config) { c.APIKeys = []string{"key_0123456789abcdef", "key_2"} }, "API_KEYS (key 2) is too short"},
		{"no token secret", func(c *Config) { c.SubscriptionTokenSecret = "" }, "SUBSCRIPTION_TOKEN_SECRET is required"},
		{"old placeholder token secret", func(c *Config) { c.SubscriptionTokenSecret = "placeholder-change-me-32-characters" }, "SUBSCRIPTION_TOKEN_SECRET is a placeholder"},
		{"16-character token secret", func(c *Config) { c.SubscriptionTokenSecret = "0123456789abcdef" }, "SUBSCRIPTION_TOKEN_SECRET is too short"},
		{"no read timeout", func(c *Config) { c.ReadTimeout = 0 }, "API_READ_TIMEOUT must be positive"},
		{"negative idle timeout", func(c *Config) { c.IdleTimeout = -time.Second }, "API_IDLE_TIMEOUT must be positive"},
		{"no connections", func(c *Config) { c.MaxConnections = 0 }, "API_MAX_CONNECTIONS must be positive"},
		{"write timeout within the Stripe call's", func(c *Config) { c.StripeTimeout, c.WriteTimeout = 30*time.Second, 30*time.Second }, "API_WRITE_TIMEOUT (30s) must exceed STRIPE_TIMEOUT (30s)"},
		{"no timeout", func(c *Config) { c.StripeTimeout = 0 }, "STRIPE_TIMEOUT"},
		{"no API keys", func(c *Config) { c.APIKeys = nil }, "API_KEYS is required"},
		{"no API keys, auth explicitly off", func(c *Config) { c.APIKeys, c.AuthDisabled = nil, true }, ""},
		{"rate limits off", func(c *Config) { c.RatePerKey, c.RatePerAddr = 0, 0 }, ""},
		{"rate limits on", func(c *Config) { c.RatePerKey, c.RatePerKeyBurst, c.RatePerAddr, c.RatePerAddrBurst = 20, 40, 0.5, 1 }, ""},
		{"negative key rate", func(c *Config) { c.RatePerKey = -1 }, "API_RATE_PER_KEY_RPS must be 0 (off) or a positive"},
		{"address rate without burst", func(c *Config) { c.RatePerAddr, c.RatePerAddrBurst = 2, 0 }, "API_RATE_PER_ADDRESS_BURST must be at least 1"},
		{"trusted proxies", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/8", " 192.0.2.1", "fd00::/8"} }, ""},
		{"demo", func(c *Config) { c.Demo, c.DemoNotifierURL = true, "wss://ws.shop.example/ws" }, ""},
		{"demo with an http notifier URL", func(c *Config) { c.Demo, c.DemoNotifierURL = true, "http://127.0.0.1:8082/ws" }, `API_DEMO_NOTIFIER_URL: "http://127.0.0.1:8082/ws" is not a ws://`},
		{"no demo, its URL unchecked", func(c *Config) { c.DemoNotifierURL = "" }, ""},
		{"bad trusted proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, `API_TRUSTED_PROXIES: "10.0.0.0/33"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.change(&c)
			err := c.Validate()
			if tc.want == "" && err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tc.want)
			}
			for _, secret := range append([]string{c.StripeSecretKey, c.SubscriptionTokenSecret}, c.APIKeys...) {
				if err != nil && secret != "" && strings.Contains(err.Error(), secret) {
					t.Fatalf("Validate() quotes a secret: %v", err)
				}
			}
		})
	}
}

func TestCurrencies(t *testing.T) {
	c := valid()
	if got := c.Currencies(); len(got) != 1 || got[0] != "usd" {
		t.Fatalf("Currencies() = %v, want [usd]", got)
	}
	c.StripeCurrencies = []string{"USD", " eur"}
	if got := c.Currencies(); strings.Join(got, ",") != "usd,eur" {
		t.Fatalf("Currencies() = %v, want [usd eur]", got)
	}
}

// The server's limits are the settings'; the header's read timeout is
// DefaultLimits' unless the whole request's is shorter.
func TestLimits(t *testing.T) {
	c := valid()
	c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections = 20*time.Second, 45*time.Second, time.Minute, 100
	got := c.Limits()
	if got.ReadHeaderTimeout != 10*time.Second || got.ReadTimeout != 20*time.Second || got.WriteTimeout != 45*time.Second ||
		got.IdleTimeout != time.Minute || got.MaxConns != 100 || got.MaxHeaderBytes != 16<<10 {
		t.Fatalf("limits %+v", got)
	}
	c.ReadTimeout = 5 * time.Second
	if got := c.Limits(); got.ReadHeaderTimeout != 5*time.Second {
		t.Fatalf("header timeout %s with API_READ_TIMEOUT=5s, want 5s", got.ReadHeaderTimeout)
	}
}

// With only the secrets set, the defaults load and pass Validate.
func TestLoadDefaults(t *testing.T) {
	t.Setenv("STRIPE_SECRET_KEY", stripeKey)
	t.Setenv("API_KEYS", "key_0123456789abcdef")
	t.Setenv("SUBSCRIPTION_TOKEN_SECRET", "0123456789abcdef0123456789abcdef")
	c, err := service.Load[Config](context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c.ReadTimeout != 30*time.Second || c.WriteTimeout != time.Minute || c.IdleTimeout != 2*time.Minute || c.MaxConnections != 4096 || c.StripeTimeout != 30*time.Second {
		t.Errorf("server defaults: read %s, write %s, idle %s, max connections %d, Stripe %s", c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections, c.StripeTimeout)
	}
	if c.RatePerKey != 20 || c.RatePerKeyBurst != 40 || c.RatePerAddr != 2 || c.RatePerAddrBurst != 10 || len(c.TrustedProxyPrefixes()) != 0 {
		t.Errorf("rate limit defaults: key %v/%d, address %v/%d, trusted proxies %v", c.RatePerKey, c.RatePerKeyBurst, c.RatePerAddr, c.RatePerAddrBurst, c.TrustedProxies)
	}
}
