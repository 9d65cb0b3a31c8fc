// Package config is event-writer's settings, read from the environment in one place.
package config

import (
	"errors"
	"time"

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

	// BatchSize is the most events one transaction takes. The messages in
	// flight, one per partition the instance holds, share a transaction
	// (group commit), so it binds only with more partitions than that.
	BatchSize int `env:"EVENT_WRITER_BATCH_SIZE, default=1000"`
	// Transactions is how many group-commit transactions may run at once:
	// while some wait on the database's commit, others take the messages
	// that came meanwhile (docs/event-writer.md, "Throughput").
	Transactions int `env:"EVENT_WRITER_TRANSACTIONS, default=3"`

	// RetryMin and RetryMax bound the backoff of a failed write (database or
	// poison topic unreachable); it doubles from one to the other.
	RetryMin time.Duration `env:"EVENT_WRITER_RETRY_MIN, default=100ms"`
	RetryMax time.Duration `env:"EVENT_WRITER_RETRY_MAX, default=5s"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s"`
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
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		errs = append(errs, errors.New("EVENT_WRITER_BATCH_SIZE must be between 1 and 100000"))
	}
	if c.Transactions < 1 || c.Transactions > 64 {
		errs = append(errs, errors.New("EVENT_WRITER_TRANSACTIONS must be between 1 and 64"))
	}
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		errs = append(errs, errors.New("EVENT_WRITER_RETRY_MIN must be positive and at most EVENT_WRITER_RETRY_MAX"))
	}
	return errors.Join(errs...)
}
