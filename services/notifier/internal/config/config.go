// Package config is the notifier's settings, read from the environment in one place.
package config

import (
	"errors"
	"time"

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
	// AllowedOrigins are the browser origins allowed to connect; "*" is any,
	// empty is the notifier's own host only.
	AllowedOrigins []string `env:"NOTIFIER_ALLOWED_ORIGINS"`

	// Window is how far back a new subscriber's events are replayed, and how
	// much of the topic a starting instance reads before it is ready.
	Window         time.Duration `env:"NOTIFIER_WINDOW, default=10m"`
	WindowMaxBytes int64         `env:"NOTIFIER_WINDOW_MAX_BYTES, default=268435456"`

	SendQueue        int           `env:"NOTIFIER_SEND_QUEUE, default=256"`
	WriteTimeout     time.Duration `env:"NOTIFIER_WRITE_TIMEOUT, default=10s"`
	PingInterval     time.Duration `env:"NOTIFIER_PING_INTERVAL, default=30s"`
	MaxFrameBytes    int64         `env:"NOTIFIER_MAX_FRAME_BYTES, default=4096"`
	MaxSubscriptions int           `env:"NOTIFIER_MAX_SUBSCRIPTIONS, default=100"`
	MaxUnpinned      int           `env:"NOTIFIER_MAX_UNPINNED, default=10"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s"`
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate()}
	if c.RequireToken && len(c.SubscriptionTokenSecret) < 16 {
		errs = append(errs, errors.New("SUBSCRIPTION_TOKEN_SECRET is required, at least 16 characters (shared with the api), unless NOTIFIER_REQUIRE_TOKEN=false"))
	}
	if c.Window < 0 {
		errs = append(errs, errors.New("NOTIFIER_WINDOW must not be negative (0 turns the replay off)"))
	}
	if c.SendQueue < 1 || c.MaxSubscriptions < 1 || c.MaxUnpinned < 0 || c.MaxFrameBytes < 256 {
		errs = append(errs, errors.New("NOTIFIER_SEND_QUEUE and NOTIFIER_MAX_SUBSCRIPTIONS must be at least 1, NOTIFIER_MAX_UNPINNED at least 0, NOTIFIER_MAX_FRAME_BYTES at least 256"))
	}
	if c.WriteTimeout <= 0 || c.PingInterval <= 0 {
		errs = append(errs, errors.New("NOTIFIER_WRITE_TIMEOUT and NOTIFIER_PING_INTERVAL must be positive"))
	}
	return errors.Join(errs...)
}
