// Package config is event-writer's settings, read from the environment in one place.
package config

import (
	"context"
	"errors"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
)

// Config is every setting of event-writer.
type Config struct {
	Addr     string `env:"EVENT_WRITER_ADDR, default=127.0.0.1:8083"`
	Log      logging.Config
	Kafka    kafka.Config
	Database pgstore.Config

	ConsumerGroup string `env:"EVENT_WRITER_GROUP, default=event-writer"`

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
	if c.ConsumerGroup == "" {
		errs = append(errs, errors.New("EVENT_WRITER_GROUP must not be empty"))
	}
	if c.Database.URL == "" {
		errs = append(errs, errors.New("DATABASE_URL is required"))
	}
	return errors.Join(errs...)
}
