// Package config is the api's settings, read from the environment in one place.
package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

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
	// StripeAPIBase is Stripe's API or a compatible server such as stripe-mock.
	StripeAPIBase string `env:"STRIPE_API_BASE, default=https://api.stripe.com"`

	SubscriptionTokenSecret string        `env:"SUBSCRIPTION_TOKEN_SECRET"`
	SubscriptionTokenTTL    time.Duration `env:"SUBSCRIPTION_TOKEN_TTL, default=1h"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s"`
}

// Load reads the environment and validates it.
func Load(ctx context.Context) (Config, error) {
	var c Config
	if err := envconfig.Process(ctx, &c); err != nil {
		return c, err
	}
	return c, c.Validate()
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	var errs []error
	if c.StripeSecretKey == "" {
		errs = append(errs, errors.New("STRIPE_SECRET_KEY is required"))
	}
	if len(c.StripeCurrency) != 3 {
		errs = append(errs, fmt.Errorf("STRIPE_CURRENCY: %q is not a 3-letter ISO currency code", c.StripeCurrency))
	}
	if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("STRIPE_API_BASE: %q is not an http(s) URL", c.StripeAPIBase))
	}
	if len(c.SubscriptionTokenSecret) < 16 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_SECRET is required, at least 16 characters (shared with the notifier)"))
	}
	if c.SubscriptionTokenTTL <= 0 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_TTL must be positive"))
	}
	return errors.Join(errs...)
}

// Currency is the configured currency in Stripe's lower-case form.
func (c Config) Currency() string { return strings.ToLower(c.StripeCurrency) }
