// Package config is event-writer's settings, read from the environment in one place.
package config

import (
	"errors"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// Config is every setting of event-writer.
type Config struct {
	// Addr is the event-writer's only listener, and it is an ops listener:
	// the writer has no product routes, so it serves /healthz, the detailed
	// /readyz and /metrics (pkg/httpserver.OpsHandler) here, and there is no
	// EVENT_WRITER_OPS_ADDR. Loopback by default, like every ops address; a
	// container sets 0.0.0.0:8083 so that probes and scrapers reach it.
	Addr     string `env:"EVENT_WRITER_ADDR, default=127.0.0.1:8083" help:"listen address of /healthz, /readyz and /metrics, its only listener; loopback by default, 0.0.0.0:8083 in a container"`
	Log      logging.Config
	Kafka    kafka.Config
	Tracing  tracing.Config
	Database pgstore.Config

	ConsumerGroup string `env:"EVENT_WRITER_GROUP, default=event-writer" help:"Kafka consumer group the writers share"`

	// BatchSize is the most events one transaction takes. The messages in
	// flight, one per partition the instance holds, share a transaction
	// (group commit), so it binds only with more partitions than that.
	BatchSize int `env:"EVENT_WRITER_BATCH_SIZE, default=1000" help:"the most events one transaction stores (1 to 100000)"`
	// Transactions is how many group-commit transactions may run at once:
	// while some wait on the database's commit, others take the messages
	// that came meanwhile (docs/event-writer.md, "Throughput").
	Transactions int `env:"EVENT_WRITER_TRANSACTIONS, default=3" help:"group-commit transactions that may run at once (1 to 64)"`

	// RetryMin and RetryMax bound the backoff of a failed write (database or
	// poison topic unreachable); it doubles from one to the other.
	RetryMin time.Duration `env:"EVENT_WRITER_RETRY_MIN, default=100ms" help:"first backoff after a failed write; it doubles up to EVENT_WRITER_RETRY_MAX"`
	RetryMax time.Duration `env:"EVENT_WRITER_RETRY_MAX, default=5s" help:"longest backoff between retries of a failed write"`

	// The limits of the ops server of /healthz, /readyz and /metrics
	// (pkg/httpserver.Limits; the defaults are DefaultLimits').
	// ReadTimeout bounds reading a whole request from its start.
	ReadTimeout time.Duration `env:"EVENT_WRITER_READ_TIMEOUT, default=30s" help:"bounds reading a whole request, header and body, from its start (ops server)"`
	// WriteTimeout bounds a request's handling and answer, from the end of
	// its header.
	WriteTimeout time.Duration `env:"EVENT_WRITER_WRITE_TIMEOUT, default=60s" help:"bounds the rest of a request from the end of its header: handling it and writing the answer (ops server)"`
	// IdleTimeout bounds a kept-alive connection's wait for its next request.
	IdleTimeout time.Duration `env:"EVENT_WRITER_IDLE_TIMEOUT, default=2m" help:"bounds a kept-alive connection's wait for its next request (ops server)"`
	// MaxConnections bounds the connections served at once; the next waits
	// in the kernel's accept queue until one closes.
	MaxConnections int `env:"EVENT_WRITER_MAX_CONNECTIONS, default=4096" help:"the most connections served at once; the next waits in the kernel's accept queue until one closes (ops server)"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s" help:"how long a stopping service (SIGINT, SIGTERM) may take to finish the work in flight before it exits"`

	// Retention deletes, hourly, the stored events received longer ago than
	// it (docs/security.md, "Personal data"); 0 keeps them forever.
	Retention time.Duration `env:"EVENT_WRITER_RETENTION, default=0" help:"deletes, hourly, stored events received longer ago than this (e.g. 2160h); 0 keeps them forever"`
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
	errs = append(errs, c.Limits().Validate("EVENT_WRITER_"))
	if c.Retention < 0 {
		errs = append(errs, errors.New("EVENT_WRITER_RETENTION must be 0 (keep events forever) or a positive duration such as 2160h"))
	}
	return errors.Join(errs...)
}

// Limits are the HTTP server's limits from the settings; the header's read
// timeout is DefaultLimits', or ReadTimeout when that is shorter.
func (c Config) Limits() httpserver.Limits {
	return httpserver.LimitsOf(c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
}
