package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/secret"
	"github.com/stripeline/stripeline/tools/devproxy"
)

// StackConfig says how to run the pipeline. Empty fields get defaults that
// suit a test: free loopback ports, an in-memory broker, generated secrets.
type StackConfig struct {
	BinDir string // where the service binaries are (see BuildServices)

	KafkaBrokers []string // external brokers; empty starts the embedded one
	BrokerAddr   string   // embedded broker address; default a free port
	BrokerData   string   // embedded broker data folder; empty: in memory
	Partitions   int32
	Topic        string

	StripeAPIBase  string // external Stripe-compatible API; empty starts stripe-mock
	StripeMockAddr string // default a free port
	// DevProxy puts the development proxy (tools/devproxy) in front of the
	// stack's own stripe-mock: the api's Stripe is then the proxy, at
	// StripeMockAddr, which declines Stripe's decline test cards and sends
	// each payment's webhook events to webhook-ingest; stripe-mock moves to
	// a free port (Stack.StripeMockURL). make run turns it on; the tests
	// and make bench, which measure stripe-mock directly, leave it off.
	DevProxy bool
	// Demo serves the api's demo checkout page (API_DEMO=true) with the
	// notifier's address, and lets the page's origin open the notifier's
	// websocket (NOTIFIER_ALLOWED_ORIGINS). make run turns it on.
	Demo bool

	DatabaseURL string // the database is created when missing

	StripeSecretKey         string
	APIKey                  string // what clients send as X-API-Key
	AdminKey                string // what the shop's servers send for refunds, capture, cancel
	WebhookSecret           string
	SubscriptionTokenSecret string

	// Addrs are the services' listen addresses by name; missing ones get free ports.
	Addrs map[string]string
	// OpsAddrs are the services' ops addresses (/healthz, /readyz, /metrics)
	// by name; missing ones get free ports. The event-writer has none: its
	// listen address is its ops listener (OpsAddrVar).
	OpsAddrs map[string]string
	// Env is added to every service's environment (it wins over the stack's).
	Env []string
	// KeepEnvironment makes a setting in this process's environment win
	// over the stack's choice and Env (make run: it never overrides a value
	// the user set).
	KeepEnvironment bool
	// Log returns where a component's output goes; nil discards it.
	Log func(component string) io.Writer
}

// Stack is a running pipeline.
type Stack struct {
	Config     StackConfig
	Broker     *Broker // nil when KafkaBrokers was given
	StripeMock *Process
	// StripeMockURL is stripe-mock's own address, empty when StripeAPIBase
	// was given; with DevProxy, Config.StripeAPIBase is the proxy's.
	StripeMockURL string
	DevProxy      *devproxy.Proxy // with Config.DevProxy
	proxyServer   *http.Server

	mu       sync.Mutex
	services map[string]*Process
}

// StartStack brings up the pipeline and waits until every service is ready.
func StartStack(ctx context.Context, cfg StackConfig) (*Stack, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	s := &Stack{Config: cfg, services: map[string]*Process{}}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if len(cfg.KafkaBrokers) == 0 {
		b, err := StartBroker(BrokerConfig{
			Addr: s.Config.BrokerAddr, DataDir: cfg.BrokerData, Partitions: cfg.Partitions,
			Topics: []string{cfg.Topic, cfg.Topic + ".poison"},
		})
		if err != nil {
			return nil, err
		}
		s.Broker = b
		s.Config.KafkaBrokers = []string{b.Addr()}
	}
	if cfg.StripeAPIBase == "" {
		mockAddr := cfg.StripeMockAddr
		if cfg.DevProxy {
			var err error
			if mockAddr, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
		p, err := StartStripeMock(ctx, mockAddr, s.log("stripe-mock"))
		if err != nil {
			return nil, err
		}
		s.StripeMock = p
		s.StripeMockURL = "http://" + mockAddr
		s.Config.StripeAPIBase = s.StripeMockURL
		if cfg.DevProxy {
			if err := s.startDevProxy(); err != nil {
				return nil, err
			}
		}
	}
	if err := pgstore.EnsureDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	for _, name := range Services {
		if err := s.StartService(ctx, name); err != nil {
			return nil, err
		}
	}
	ok = true
	return s, nil
}

// startDevProxy serves the development proxy at StripeMockAddr, in front
// of the stack's stripe-mock, sending events to the stack's webhook-ingest.
func (s *Stack) startDevProxy() error {
	secret, _, _ := strings.Cut(s.Config.WebhookSecret, ",")
	p, err := devproxy.New(devproxy.Config{
		Upstream:      s.StripeMockURL,
		WebhookURL:    s.URL("webhook-ingest") + "/webhooks/stripe",
		WebhookSecret: secret,
		Logger:        slog.New(slog.NewJSONHandler(s.log("devproxy"), nil)),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.Config.StripeMockAddr)
	if err != nil {
		p.Close()
		return fmt.Errorf("development proxy: %w", err)
	}
	s.DevProxy = p
	s.proxyServer = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.proxyServer.Serve(ln) }()
	s.Config.StripeAPIBase = "http://" + ln.Addr().String()
	return nil
}

func (c *StackConfig) setDefaults() error {
	if c.Topic == "" {
		c.Topic = "stripe.events.v1"
	}
	if c.BrokerAddr == "" {
		c.BrokerAddr = "127.0.0.1:0"
	}
	var err error
	if c.StripeMockAddr == "" && c.StripeAPIBase == "" {
		if c.StripeMockAddr, err = FreeAddr(); err != nil {
			return err
		}
	}
	// Generated secrets pass the services' checks (pkg/secret): stripe-mock
	// takes any sk_test_ key; the lengths are past each minimum.
	if c.StripeSecretKey == "" {
		c.StripeSecretKey = "sk_test_" + RandomHex(12) // 32 characters
	}
	if c.APIKey == "" {
		c.APIKey = "key_" + RandomHex(12) // 28
	}
	if c.AdminKey == "" {
		c.AdminKey = "admin_" + RandomHex(12) // 30
	}
	if c.WebhookSecret == "" {
		c.WebhookSecret = "whsec_" + RandomHex(16) // 38
	}
	if c.SubscriptionTokenSecret == "" {
		c.SubscriptionTokenSecret = RandomHex(24) // 48
	}
	// Given ones (make run takes them from its environment) are checked
	// here too, so a placeholder fails at once, by name, rather than as a
	// service that never gets ready.
	var errs []error
	for _, s := range []struct {
		name, value string
		min         int
	}{
		{"STRIPE_SECRET_KEY", c.StripeSecretKey, secret.MinStripeKey},
		{"SUBSCRIPTION_TOKEN_SECRET", c.SubscriptionTokenSecret, secret.MinTokenSecret},
	} {
		errs = append(errs, secret.Check(s.name, s.value, s.min))
	}
	for _, k := range strings.Split(c.APIKey, ",") {
		errs = append(errs, secret.Check("API_KEYS", k, secret.MinAPIKey))
	}
	for _, k := range strings.Split(c.AdminKey, ",") {
		errs = append(errs, secret.Check("ADMIN_API_KEYS", k, secret.MinAPIKey))
	}
	for _, w := range strings.Split(c.WebhookSecret, ",") {
		errs = append(errs, secret.Check("STRIPE_WEBHOOK_SECRETS", w, secret.MinWebhookSecret))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("devstack: %w", err)
	}
	if c.DatabaseURL == "" {
		return fmt.Errorf("devstack: DatabaseURL is required")
	}
	addrs := map[string]string{}
	for _, name := range Services {
		addrs[name] = c.Addrs[name]
		if addrs[name] == "" {
			if addrs[name], err = FreeAddr(); err != nil {
				return err
			}
		}
	}
	c.Addrs = addrs
	ops := map[string]string{}
	for _, name := range Services {
		if OpsAddrVar(name) == addrVar(name) {
			continue
		}
		ops[name] = c.OpsAddrs[name]
		if ops[name] == "" {
			if ops[name], err = FreeAddr(); err != nil {
				return err
			}
		}
	}
	c.OpsAddrs = ops
	return nil
}

// addrVar is the setting of a service's listen address.
func addrVar(service string) string {
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_ADDR"
}

// OpsAddrVar is the setting of a service's ops listener: API_OPS_ADDR,
// WEBHOOK_INGEST_OPS_ADDR, NOTIFIER_OPS_ADDR; for the event-writer, which
// has no product routes, its only listener, EVENT_WRITER_ADDR.
func OpsAddrVar(service string) string {
	if service == "event-writer" {
		return addrVar(service)
	}
	return strings.ToUpper(strings.ReplaceAll(service, "-", "_")) + "_OPS_ADDR"
}

// RandomHex returns n random bytes, hex-encoded.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *Stack) log(component string) io.Writer {
	if s.Config.Log == nil {
		return io.Discard
	}
	return s.Config.Log(component)
}

// URL is the base URL of a service ("http://127.0.0.1:port").
func (s *Stack) URL(service string) string { return "http://" + s.Config.Addrs[service] }

// OpsURL is the base URL of a service's ops listener, where /readyz and
// /metrics are (the event-writer's is its URL).
func (s *Stack) OpsURL(service string) string {
	if a, ok := s.Config.OpsAddrs[service]; ok {
		return "http://" + a
	}
	return s.URL(service)
}

// Env is the environment every service gets.
func (s *Stack) Env() []string {
	c := s.Config
	env := []string{
		"KAFKA_BROKERS=" + strings.Join(c.KafkaBrokers, ","),
		"KAFKA_TOPIC=" + c.Topic,
		"DATABASE_URL=" + c.DatabaseURL,
		"STRIPE_SECRET_KEY=" + c.StripeSecretKey,
		"STRIPE_PUBLISHABLE_KEY=" + publishableKey(),
		"STRIPE_API_BASE=" + c.StripeAPIBase,
		"STRIPE_WEBHOOK_SECRETS=" + c.WebhookSecret,
		"API_KEYS=" + c.APIKey,
		"ADMIN_API_KEYS=" + c.AdminKey,
		"SUBSCRIPTION_TOKEN_SECRET=" + c.SubscriptionTokenSecret,
		"API_ADDR=" + c.Addrs["api"],
		"WEBHOOK_INGEST_ADDR=" + c.Addrs["webhook-ingest"],
		"NOTIFIER_ADDR=" + c.Addrs["notifier"],
		"EVENT_WRITER_ADDR=" + c.Addrs["event-writer"],
		"API_OPS_ADDR=" + c.OpsAddrs["api"],
		"WEBHOOK_INGEST_OPS_ADDR=" + c.OpsAddrs["webhook-ingest"],
		"NOTIFIER_OPS_ADDR=" + c.OpsAddrs["notifier"],
	}
	if c.Demo {
		env = append(env,
			"API_DEMO=true",
			"API_DEMO_NOTIFIER_URL=ws://"+c.Addrs["notifier"]+"/ws",
			"NOTIFIER_ALLOWED_ORIGINS="+strings.Join(Origins(c.Addrs["api"]), ","),
		)
	}
	env = append(env, c.Env...)
	if !c.KeepEnvironment {
		return env
	}
	kept := env[:0]
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if os.Getenv(name) == "" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// Origins are the browser origins of a page served at addr: as written,
// and, on loopback or every address, by localhost's two names.
func Origins(addr string) []string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return []string{"http://" + addr}
	}
	switch host {
	case "127.0.0.1", "localhost", "", "0.0.0.0", "::", "::1":
		return []string{"http://127.0.0.1:" + port, "http://localhost:" + port}
	}
	return []string{"http://" + addr}
}

// publishableKey is STRIPE_PUBLISHABLE_KEY from the environment (make run
// passes the user's on), or a test one stripe-mock accepts.
func publishableKey() string {
	if k := os.Getenv("STRIPE_PUBLISHABLE_KEY"); k != "" {
		return k
	}
	return "pk_test_stripeline"
}

// serviceSecrets names the secrets each service reads.
var serviceSecrets = map[string][]string{
	"api":            {"STRIPE_SECRET_KEY", "API_KEYS", "ADMIN_API_KEYS", "SUBSCRIPTION_TOKEN_SECRET"},
	"webhook-ingest": {"STRIPE_WEBHOOK_SECRETS"},
	"notifier":       {"SUBSCRIPTION_TOKEN_SECRET"},
	"event-writer":   {"STRIPE_EVENTS_KEY"},
}

// OnlyItsSecrets is env without the secrets service (a binary's name) does
// not read: each process gets only its own.
func OnlyItsSecrets(service string, env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		secret := false
		for _, names := range serviceSecrets {
			secret = secret || slices.Contains(names, name)
		}
		if !secret || slices.Contains(serviceSecrets[service], name) {
			out = append(out, kv)
		}
	}
	return out
}

// StartService starts one service (again) and waits until it is ready.
func (s *Stack) StartService(ctx context.Context, name string) error {
	p, err := Start(ProcessConfig{
		Name: name,
		Path: filepath.Join(s.Config.BinDir, name),
		Env:  OnlyItsSecrets(name, s.Env()),
		Log:  s.log(name),
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.services[name] = p
	s.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := WaitReady(rctx, p, s.OpsURL(name)+"/readyz"); err != nil {
		return fmt.Errorf("%s not ready: %w", name, err)
	}
	return nil
}

// Service is the running process of a service.
func (s *Stack) Service(name string) *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.services[name]
}

// Close stops the services (in reverse start order) with SIGTERM, then
// stripe-mock and the broker. It reports every service that did not exit
// cleanly (status 0) within its grace.
func (s *Stack) Close() error {
	var errs []error
	for i := len(Services) - 1; i >= 0; i-- {
		if p := s.Service(Services[i]); p != nil {
			if err := p.Stop(15 * time.Second); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.Name, err))
			}
		}
	}
	if s.proxyServer != nil {
		_ = s.proxyServer.Close()
		s.DevProxy.Close()
	}
	if s.StripeMock != nil {
		_ = s.StripeMock.Stop(5 * time.Second)
	}
	if s.Broker != nil {
		s.Broker.Close()
	}
	return errors.Join(errs...)
}
