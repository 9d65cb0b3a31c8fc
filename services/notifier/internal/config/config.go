// Package config is the notifier's settings, read from the environment in one place.
package config

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/stripeline/stripeline/pkg/clientaddr"
	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// Config is every setting of the notifier.
type Config struct {
	Addr string `env:"NOTIFIER_ADDR, default=127.0.0.1:8082" help:"listen address of the websocket endpoint"`
	// OpsAddr is the ops listener: /healthz, the detailed /readyz and
	// /metrics (pkg/httpserver.OpsHandler). Loopback by default; a
	// container sets 0.0.0.0:9082 so that probes and scrapers reach it.
	OpsAddr string `env:"NOTIFIER_OPS_ADDR, default=127.0.0.1:9082" help:"listen address of /healthz, /readyz and /metrics; loopback by default, 0.0.0.0:9082 in a container"`
	Log     logging.Config
	Kafka   kafka.Config
	Tracing tracing.Config

	// RequireToken makes every subscription prove, with a token from the api,
	// that it may follow the transaction. Off only for seed-style clients.
	RequireToken bool `env:"NOTIFIER_REQUIRE_TOKEN, default=true" help:"every subscription must carry a subscription token from the api; false only for seed-style clients"`
	// SubscriptionTokenSecret verifies the tokens; the api signs them with
	// the same value: one secret, or keyid:secret pairs, all of which verify
	// (subtoken.ParseKeys). With RequireToken, each at least
	// secret.MinTokenSecret characters and no placeholder (secret.Check).
	SubscriptionTokenSecret string `env:"SUBSCRIPTION_TOKEN_SECRET" help:"verifies subscription tokens (the api signs them with the same value): one secret, or comma-separated keyid:secret pairs, all of which verify; required with NOTIFIER_REQUIRE_TOKEN"`
	// AllowedOrigins are the browser origins allowed to connect; "*" is any,
	// empty is the notifier's own host only.
	AllowedOrigins []string `env:"NOTIFIER_ALLOWED_ORIGINS" help:"comma-separated browser origins allowed to connect; * is any, empty is the notifier's own host only"`

	// Window is how far back a new subscriber's events are replayed, and how
	// much of the topic a starting instance reads before it is ready.
	Window         time.Duration `env:"NOTIFIER_WINDOW, default=10m" help:"how far back a new subscriber's events are replayed, and how much of the topic a starting instance reads before it is ready; 0 turns replay off"`
	WindowMaxBytes int64         `env:"NOTIFIER_WINDOW_MAX_BYTES, default=268435456" help:"the most bytes of events the replay window keeps in memory"`

	SendQueue int `env:"NOTIFIER_SEND_QUEUE, default=256" help:"messages queued per connection before a slow client is dropped"`
	// WriteTimeout is the deadline of every websocket write (HTTPWriteTimeout
	// is the HTTP server's).
	WriteTimeout     time.Duration `env:"NOTIFIER_WRITE_TIMEOUT, default=10s" help:"deadline of every websocket write"`
	PingInterval     time.Duration `env:"NOTIFIER_PING_INTERVAL, default=30s" help:"how often an idle websocket is pinged"`
	MaxFrameBytes    int64         `env:"NOTIFIER_MAX_FRAME_BYTES, default=4096" help:"largest frame a client may send (at least 256)"`
	MaxSubscriptions int           `env:"NOTIFIER_MAX_SUBSCRIPTIONS, default=100" help:"the most transactions one connection may follow"`
	MaxUnpinned      int           `env:"NOTIFIER_MAX_UNPINNED, default=10" help:"the most subscriptions per connection without a transaction pinned by a token"`

	// Limits on what one client can hold (docs/notifier.md, "Limits"). The
	// total of connections is NOTIFIER_HTTP_MAX_CONNECTIONS, below.
	MaxConnectionsPerAddress int `env:"NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS, default=256" help:"the most websockets from one client address (IPv6: one /64); 0 is no limit"`
	// TrustedProxies are the proxies whose X-Forwarded-For names the client
	// (pkg/clientaddr, as the api's API_TRUSTED_PROXIES).
	TrustedProxies      []string `env:"NOTIFIER_TRUSTED_PROXIES, default=" help:"comma-separated CIDRs or addresses of the proxies in front whose X-Forwarded-For is believed; empty: the TCP peer is the client"`
	MaxConnectionsPerID int      `env:"NOTIFIER_MAX_CONNECTIONS_PER_ID, default=8" help:"the most websockets subscribed to one transaction id; 0 is no limit"`
	MaxSelectorValues   int      `env:"NOTIFIER_MAX_SELECTOR_VALUES, default=100" help:"the most values in one selector, all its IN lists together"`
	MaxSelectorNodes    int      `env:"NOTIFIER_MAX_SELECTOR_NODES, default=64" help:"the most conditions, ANDs, ORs and NOTs in one selector"`
	MaxConnectionBytes  int64    `env:"NOTIFIER_MAX_CONNECTION_BYTES, default=262144" help:"the most bytes one connection holds: its queued frames, subscriptions and selectors"`

	// The HTTP server's limits (pkg/httpserver.Limits), under NOTIFIER_HTTP_
	// because NOTIFIER_WRITE_TIMEOUT is the websocket's. The timeouts bound
	// the upgrade request and /healthz (the ops port has its own,
	// httpserver.OpsLimits): a hijacked websocket keeps
	// no server deadline (gorilla clears them). Defaults: DefaultLimits'.
	// HTTPReadTimeout bounds reading a whole request from its start.
	HTTPReadTimeout time.Duration `env:"NOTIFIER_HTTP_READ_TIMEOUT, default=30s" help:"bounds reading a whole request, header and body, from its start"`
	// HTTPWriteTimeout bounds a request's handling and answer, from the end
	// of its header.
	HTTPWriteTimeout time.Duration `env:"NOTIFIER_HTTP_WRITE_TIMEOUT, default=60s" help:"bounds the rest of a request from the end of its header: handling it and writing the answer"`
	// HTTPIdleTimeout bounds a kept-alive connection's wait for its next
	// request (not a websocket's: NOTIFIER_PING_INTERVAL keeps those).
	HTTPIdleTimeout time.Duration `env:"NOTIFIER_HTTP_IDLE_TIMEOUT, default=2m" help:"bounds a kept-alive connection's wait for its next request"`
	// MaxConnections bounds the websockets served at once: each subscribed
	// client holds one for as long as it stays (make bench holds 10,000), so
	// far more than DefaultLimits' 4,096. The websocket past it is refused
	// with close 1013 (ws.Server); the listener accepts RefusalMargin more
	// connections than that, so such refusals and /healthz are answered,
	// and holds the next in the kernel's queue. It was 65,536, more file
	// descriptors than a process may open here (the limit is 20,000,
	// `ulimit -n`): past the limit accept fails and net/http retries in a
	// loop, and the Kafka client cannot dial a broker. 17,000 keeps about
	// 3,000 descriptors for the rest. Where the limit is higher, raise both.
	MaxConnections int `env:"NOTIFIER_HTTP_MAX_CONNECTIONS, default=17000" help:"the most websockets served at once (the next is closed with 1013); keep it below the process's file descriptor limit"`

	ShutdownGrace time.Duration `env:"SHUTDOWN_GRACE, default=10s" help:"how long a stopping service (SIGINT, SIGTERM) may take to finish the work in flight before it exits"`
}

// Validate reports every setting that cannot work.
func (c Config) Validate() error {
	errs := []error{c.Kafka.Validate()}
	if c.RequireToken {
		if err := subtoken.CheckSetting("SUBSCRIPTION_TOKEN_SECRET", c.SubscriptionTokenSecret); err != nil {
			errs = append(errs, fmt.Errorf("%w; the api signs the tokens with the same value (NOTIFIER_REQUIRE_TOKEN=false serves without tokens)", err))
		}
	}
	if c.Window < 0 {
		errs = append(errs, errors.New("NOTIFIER_WINDOW must not be negative (0 turns the replay off)"))
	}
	if c.SendQueue < 1 || c.MaxSubscriptions < 1 || c.MaxUnpinned < 0 || c.MaxFrameBytes < 256 {
		errs = append(errs, errors.New("NOTIFIER_SEND_QUEUE and NOTIFIER_MAX_SUBSCRIPTIONS must be at least 1, NOTIFIER_MAX_UNPINNED at least 0, NOTIFIER_MAX_FRAME_BYTES at least 256"))
	}
	if c.MaxConnectionsPerAddress < 0 || c.MaxConnectionsPerID < 0 || c.MaxSelectorValues < 1 || c.MaxSelectorNodes < 1 || c.MaxConnectionBytes < minConnectionBytes {
		errs = append(errs, fmt.Errorf("NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS and NOTIFIER_MAX_CONNECTIONS_PER_ID must be at least 0 (no limit), NOTIFIER_MAX_SELECTOR_VALUES and NOTIFIER_MAX_SELECTOR_NODES at least 1, NOTIFIER_MAX_CONNECTION_BYTES at least %d", minConnectionBytes))
	}
	if _, err := clientaddr.ParsePrefixes(c.TrustedProxies); err != nil {
		errs = append(errs, fmt.Errorf("NOTIFIER_TRUSTED_PROXIES: %w", err))
	}
	if c.WriteTimeout <= 0 || c.PingInterval <= 0 {
		errs = append(errs, errors.New("NOTIFIER_WRITE_TIMEOUT and NOTIFIER_PING_INTERVAL must be positive"))
	}
	if c.MaxConnections < 1 {
		errs = append(errs, errors.New("NOTIFIER_HTTP_MAX_CONNECTIONS must be positive"))
	}
	errs = append(errs, c.Limits().Validate("NOTIFIER_HTTP_"))
	if c.OpsAddr != "" && c.OpsAddr == c.Addr {
		errs = append(errs, errors.New("NOTIFIER_OPS_ADDR must differ from NOTIFIER_ADDR: the ops endpoints have a listener of their own"))
	}
	return errors.Join(errs...)
}

// minConnectionBytes is the least NOTIFIER_MAX_CONNECTION_BYTES: a
// subscription and a few events must fit.
const minConnectionBytes = 16 << 10

// RefusalMargin is how many connections the listener takes past
// MaxConnections: room to upgrade and refuse a websocket with a close code
// (a client past the listener's limit would wait, unanswered) and to answer
// /healthz.
const RefusalMargin = 64

// Limits are the HTTP server's limits from the settings; the header's read
// timeout is DefaultLimits', or HTTPReadTimeout when that is shorter.
func (c Config) Limits() httpserver.Limits {
	return httpserver.LimitsOf(c.HTTPReadTimeout, c.HTTPWriteTimeout, c.HTTPIdleTimeout, c.MaxConnections+RefusalMargin)
}

// TokenKeys is SUBSCRIPTION_TOKEN_SECRET parsed (Validate has checked it
// when tokens are required).
func (c Config) TokenKeys() subtoken.Keys {
	k, _ := subtoken.ParseKeys(c.SubscriptionTokenSecret)
	return k
}

// TrustedProxyPrefixes is NOTIFIER_TRUSTED_PROXIES parsed (Validate has
// checked it).
func (c Config) TrustedProxyPrefixes() []netip.Prefix {
	p, _ := clientaddr.ParsePrefixes(c.TrustedProxies)
	return p
}
