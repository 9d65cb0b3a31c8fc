// Package chaos is stripeline's fault suite: it runs the pipeline as separate
// processes (the broker with its data folder, two event-writers, two
// notifiers, one webhook-ingest), streams signed webhooks at a steady rate
// from a sender that retries the way Stripe does, holds websocket subscribers
// that reconnect when dropped, and breaks the pipeline on a schedule drawn
// from a seed: SIGKILL and restart of every service, a broker restart, a
// PostgreSQL outage through a TCP proxy, duplicate deliveries. At the end it
// checks that every accepted event is stored exactly once and reached its
// subscribers, and reports how long each fault took to heal.
package chaos

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"
)

// Config is the size and shape of a run. Zero fields get the defaults of
// the small configuration (the one `make test` runs).
type Config struct {
	Seed uint64

	Events      int     // at least this many distinct events are streamed
	Rate        float64 // new events per second
	Subscribers int     // websocket clients, spread over the notifiers
	// SubscribedShare is the share of events that belong to a subscriber's
	// transaction; the rest are other objects nobody listens to.
	SubscribedShare float64
	Rounds          int // every fault happens this many times
	// Only keeps the faults named here ("kill event-writer-2", "restart
	// broker", "cut postgres", "duplicates"), to chase one finding; empty
	// keeps all.
	Only       []string
	Duplicates int // accepted events sent again by one duplicate-delivery fault

	Writers    int // event-writer instances (default 2)
	Notifiers  int // notifier instances (default 2)
	Partitions int

	ServiceDown    time.Duration // most a killed service stays down before its restart
	BrokerDown     time.Duration // how long the broker stays down
	PostgresOutage time.Duration // how long PostgreSQL is cut off the writers
	MaxBackoff     time.Duration // cap of the sender's retry backoff, so the run ends
	HealTimeout    time.Duration // a fault not healed within this fails the run
	DrainTimeout   time.Duration // after the stream, how long stores and deliveries may take

	// RecoveryWindow is the notifier's: a subscriber that resubscribes later
	// than this after an event was accepted may legitimately miss it.
	RecoveryWindow time.Duration
	// LenientDelivery reports missed subscriber deliveries without failing
	// the run. The default is the issue's: every one is required.
	LenientDelivery bool

	// Env is added to every service's environment, after the harness's own
	// settings (so it wins): tuning or breaking a service for an experiment.
	Env []string

	BinDir      string // the services and stripeline-dev; built there when missing
	DataDir     string // the broker's data folder and the logs
	DatabaseURL string // dropped and created afresh; its name must contain "chaos"

	Out io.Writer // progress and the final table; nil discards
}

// Small is the configuration `make test` runs: a few thousand events, every
// fault once.
func Small(seed uint64) Config {
	return Config{Seed: seed, Events: 2000, Rate: 50, Subscribers: 16, Rounds: 1, Duplicates: 30}
}

// Full is the on-demand configuration (`make chaos`).
func Full(seed uint64) Config {
	return Config{Seed: seed, Events: 20000, Rate: 100, Subscribers: 100, Rounds: 3, Duplicates: 200}
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Events, 2000)
	def(&c.Subscribers, 16)
	def(&c.Rounds, 1)
	def(&c.Duplicates, 30)
	def(&c.Writers, 2)
	def(&c.Notifiers, 2)
	def(&c.Partitions, 4)
	if c.Rate <= 0 {
		c.Rate = 50
	}
	if c.SubscribedShare <= 0 || c.SubscribedShare > 1 {
		c.SubscribedShare = 0.5
	}
	defD(&c.ServiceDown, 1500*time.Millisecond)
	defD(&c.BrokerDown, 2*time.Second)
	defD(&c.PostgresOutage, 3*time.Second)
	defD(&c.MaxBackoff, 2*time.Second)
	defD(&c.HealTimeout, 90*time.Second)
	defD(&c.DrainTimeout, 90*time.Second)
	defD(&c.RecoveryWindow, 10*time.Minute)
	if c.Out == nil {
		c.Out = io.Discard
	}
}

func (c Config) validate() error {
	var errs []error
	if c.BinDir == "" || c.DataDir == "" {
		errs = append(errs, errors.New("chaos: BinDir and DataDir are required"))
	}
	u, err := url.Parse(c.DatabaseURL)
	if err != nil || u.Host == "" {
		errs = append(errs, fmt.Errorf("chaos: DatabaseURL %q is not a postgres:// URL", c.DatabaseURL))
	} else if !strings.Contains(strings.TrimPrefix(u.Path, "/"), "chaos") {
		// The run drops the database first: refuse any that is not obviously its own.
		errs = append(errs, fmt.Errorf("chaos: the database name must contain \"chaos\" (it is dropped and recreated), got %q", u.Path))
	}
	if c.Writers < 1 || c.Notifiers < 1 {
		errs = append(errs, errors.New("chaos: at least one writer and one notifier"))
	}
	return errors.Join(errs...)
}
