// Package config is the notifier's settings, read from the environment in one place.
package config

import (
	"context"
	"errors"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
)

// Config is every setting of the notifier.
type Config struct {
	Addr  string `env:"NOTIFIER_ADDR, default=127.0.0.1:8082"`
	Log   logging.Config
	Kafka kafka.Config

	// RequireToken makes every subscription prove, with a token from the api,
	// that it may follow the transaction. Off only for seed-style clients.
	RequireToken            bool   `env:"NOTIFIER_REQUIRE_TOKEN, default=true"`
	SubscriptionTokenSecret string `env:"SUBSCRIPTION_TOKEN_SECRET"`

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
	errs := []error{c.Kafka.Validate()}
	if c.RequireToken && len(c.SubscriptionTokenSecret) < 16 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_SECRET is required, at least 16 characters (shared with the api), unless NOTIFIER_REQUIRE_TOKEN=false"))
	}
	return errors.Join(errs...)
}
