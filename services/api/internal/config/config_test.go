package config

import (
	"strings"
	"testing"
	"time"
)

func valid() Config {
	return Config{
		StripeSecretKey: "sk_test_x", StripePublishableKey: "pk_test_x", StripeCurrency: "usd",
		StripeAPIBase: "http://127.0.0.1:12111", StripeTimeout: time.Second,
		SubscriptionTokenSecret: "0123456789abcdef", SubscriptionTokenTTL: time.Hour,
		APIKeys: []string{"key_1"},
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
		{"stray comma in API_KEYS", func(c *Config) { c.APIKeys = []string{"a", ""} }, "API_KEYS has an empty key"},
		{"secret key as API key", func(c *Config) { c.APIKeys = []string{"sk_test_x"} }, "API_KEYS holds the Stripe secret key"},
		{"no timeout", func(c *Config) { c.StripeTimeout = 0 }, "STRIPE_TIMEOUT"},
		{"no API keys", func(c *Config) { c.APIKeys = nil }, "API_KEYS is required"},
		{"no API keys, auth explicitly off", func(c *Config) { c.APIKeys, c.AuthDisabled = nil, true }, ""},
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
			if err != nil && strings.Contains(err.Error(), c.StripeSecretKey) {
				t.Fatalf("Validate() quotes the secret key: %v", err)
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
