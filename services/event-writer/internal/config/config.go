// Package config is event-writer's settings, read from the environment in one place.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/secret"
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
	// StripeEventsKey reads Stripe's event list for `event-writer backfill`
	// and the periodic reconcile: a restricted key (rk_…) with only
	// "Events: read" is enough and is what to use.
	StripeEventsKey string `env:"STRIPE_EVENTS_KEY, default=" help:"Stripe key that reads events (a restricted rk_ key with only Events read), for event-writer backfill and EVENT_WRITER_RECONCILE_EVERY; empty: both off"`
	// StripeAPIBase is Stripe's API or a compatible server (stripe-mock).
	StripeAPIBase string `env:"STRIPE_API_BASE, default=https://api.stripe.com" help:"Stripe's API, or a compatible server such as stripe-mock, for backfill and reconcile"`
	// ReconcileEvery runs, that often, a backfill of the last
	// ReconcileWindow in one replica (a PostgreSQL advisory lock): it
	// catches webhooks Stripe never delivered. 0 is off.
	ReconcileEvery  time.Duration `env:"EVENT_WRITER_RECONCILE_EVERY, default=0" help:"how often one replica publishes the events of Stripe's list that stripe_events lacks (e.g. 10m); 0 is off; needs STRIPE_EVENTS_KEY"`
	ReconcileWindow time.Duration `env:"EVENT_WRITER_RECONCILE_WINDOW, default=1h" help:"how far back each reconcile looks in Stripe's event list (at most 720h, Stripe keeps 30 days)"`

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
	if c.ReconcileEvery < 0 {
		errs = append(errs, errors.New("EVENT_WRITER_RECONCILE_EVERY must be 0 (off) or a positive duration such as 10m"))
	}
	if c.ReconcileEvery > 0 && c.StripeEventsKey == "" {
		errs = append(errs, errors.New("EVENT_WRITER_RECONCILE_EVERY needs STRIPE_EVENTS_KEY, a key that reads Stripe's events"))
	}
	if c.ReconcileEvery > 0 && (c.ReconcileWindow <= 0 || c.ReconcileWindow > 720*time.Hour) {
		errs = append(errs, errors.New("EVENT_WRITER_RECONCILE_WINDOW must be positive and at most 720h (Stripe keeps 30 days of events)"))
	}
	if c.StripeEventsKey != "" {
		if err := c.CheckStripeEventsKey(); err != nil {
			errs = append(errs, err)
		}
		if u, err := url.Parse(c.StripeAPIBase); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("STRIPE_API_BASE: %q is not an http(s) URL", c.StripeAPIBase))
		}
	}
	if c.Retention < 0 {
		errs = append(errs, errors.New("EVENT_WRITER_RETENTION must be 0 (keep events forever) or a positive duration such as 2160h"))
	}
	return errors.Join(errs...)
}

// CheckStripeEventsKey refuses a STRIPE_EVENTS_KEY that is empty, a
// placeholder or too short, or no Stripe secret (sk_) or restricted (rk_) key.
func (c Config) CheckStripeEventsKey() error {
	if err := secret.Check("STRIPE_EVENTS_KEY", c.StripeEventsKey, secret.MinStripeKey); err != nil {
		return err
	}
	if !strings.HasPrefix(c.StripeEventsKey, "rk_") && !strings.HasPrefix(c.StripeEventsKey, "sk_") {
		return errors.New("STRIPE_EVENTS_KEY must be a restricted (rk_…) key with Events read, or a secret (sk_…) key")
	}
	return nil
}

// Limits are the HTTP server's limits from the settings; the header's read
// timeout is DefaultLimits', or ReadTimeout when that is shorter.
func (c Config) Limits() httpserver.Limits {
	return httpserver.LimitsOf(c.ReadTimeout, c.WriteTimeout, c.IdleTimeout, c.MaxConnections)
}
