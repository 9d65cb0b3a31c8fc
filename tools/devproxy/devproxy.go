// Package devproxy is the local stack's Stripe: a proxy in front of
// stripe-mock that closes the loop stripe-mock leaves open. stripe-mock
// validates requests and answers with well-formed objects, but it never
// declines a card, never sends a webhook, and leaves PaymentIntents in
// requires_payment_method. The proxy
//
//   - answers Stripe's decline test tokens (tok_chargeDeclined, …) and
//     payment methods (pm_card_chargeDeclined, …) with Stripe's decline
//     errors (cards.go);
//   - confirms a PaymentIntent created or confirmed with confirm=true;
//   - sends, for each payment made through it, the signed events Stripe
//     would send (charge.succeeded, charge.failed, payment_intent.created,
//     payment_intent.succeeded, …) to webhook-ingest, built from the objects
//     it answered with (events.go);
//   - sends one such event on request (POST /_stripeline/trigger, which
//     `stripeline-dev trigger` calls).
//
// It is a tool of the local stack (make run, the tests that run it) and is
// never linked into a service: production never invents events. It refuses
// upstreams and webhook targets that are not on this machine.
package devproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Config says where stripe-mock and webhook-ingest are.
type Config struct {
	// Upstream is stripe-mock's base URL (http://127.0.0.1:port).
	Upstream string
	// WebhookURL is webhook-ingest's endpoint (…/webhooks/stripe).
	WebhookURL string
	// WebhookSecret signs the events (a whsec_… of STRIPE_WEBHOOK_SECRETS).
	WebhookSecret string
	// Logger logs each event sent; nil discards.
	Logger *slog.Logger
}

// Validate refuses a configuration that would reach past this machine.
func (c Config) Validate() error {
	var errs []error
	for name, raw := range map[string]string{"upstream": c.Upstream, "webhook URL": c.WebhookURL} {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("devproxy: %s %q is not an http(s) URL", name, raw))
			continue
		}
		if !loopback(u.Hostname()) {
			errs = append(errs, fmt.Errorf("devproxy: %s %q is not on this machine; the development proxy only runs in the local stack", name, raw))
		}
	}
	if c.WebhookSecret == "" {
		errs = append(errs, errors.New("devproxy: a webhook signing secret is required"))
	}
	return errors.Join(errs...)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Proxy is the development proxy; it is an http.Handler.
type Proxy struct {
	cfg      Config
	upstream *url.URL
	reverse  *httputil.ReverseProxy
	client   *http.Client
	logger   *slog.Logger
	sender   *sender

	mu      sync.Mutex
	objects map[string]map[string]any // id → the latest version answered or sent
	order   []string                  // ids, oldest first, to bound objects
}

// maxObjects bounds what the proxy remembers for triggers.
const maxObjects = 10_000

// New builds the proxy. Close stops its sender.
func New(cfg Config) (*Proxy, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	up, _ := url.Parse(cfg.Upstream) // checked by Validate
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg:      cfg,
		upstream: up,
		reverse:  httputil.NewSingleHostReverseProxy(up),
		client:   &http.Client{Timeout: 30 * time.Second},
		logger:   logger,
		objects:  map[string]map[string]any{},
	}
	p.sender = newSender(cfg.WebhookURL, cfg.WebhookSecret, logger)
	return p, nil
}

// Close stops sending events; those still queued are dropped.
func (p *Proxy) Close() { p.sender.close() }

// Idle reports whether every event queued so far has been sent (or given up).
func (p *Proxy) Idle() bool { return p.sender.idle() }

// ServeHTTP answers the payment calls it knows, forwards the rest.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case r.Method == http.MethodPost && path == "/_stripeline/trigger":
		p.trigger(w, r)
	case r.Method == http.MethodPost && path == "/v1/charges":
		p.charge(w, r)
	case r.Method == http.MethodPost && path == "/v1/payment_intents":
		p.paymentIntent(w, r, "")
	case r.Method == http.MethodPost && strings.HasPrefix(path, "/v1/payment_intents/") && strings.HasSuffix(path, "/confirm"):
		id := strings.TrimSuffix(strings.TrimPrefix(path, "/v1/payment_intents/"), "/confirm")
		p.paymentIntent(w, r, id)
	default:
		p.reverse.ServeHTTP(w, r)
	}
}

// upstreamCall is one request to stripe-mock, answered whole.
type upstreamCall struct {
	status int
	header http.Header
	body   []byte
}

// forward sends r (with body) to stripe-mock at path.
func (p *Proxy) forward(ctx context.Context, r *http.Request, method, path string, body []byte) (upstreamCall, error) {
	u := *p.upstream
	u.Path = path
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return upstreamCall{}, err
	}
	for _, h := range []string{"Authorization", "Content-Type", "Stripe-Version", "Idempotency-Key", "User-Agent", "X-Stripe-Client-User-Agent"} {
		if v := r.Header.Get(h); v != "" {
			req.Header.Set(h, v)
		}
	}
	if req.Header.Get("Authorization") == "" {
		// A trigger, which brings no key: stripe-mock takes any test key.
		req.Header.Set("Authorization", "Bearer sk_test_123")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return upstreamCall{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return upstreamCall{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// object fetches a fixture of the kind of id from stripe-mock, with that id.
func (p *Proxy) fixture(ctx context.Context, r *http.Request, id string) (map[string]any, error) {
	collection, ok := collectionOf(id)
	if !ok {
		return nil, fmt.Errorf("no Stripe object kind has ids like %q", id)
	}
	call, err := p.forward(ctx, r, http.MethodGet, "/v1/"+collection+"/"+id, nil)
	if err != nil {
		return nil, err
	}
	if call.status != http.StatusOK {
		return nil, fmt.Errorf("stripe-mock answered GET /v1/%s/%s with %d: %s", collection, id, call.status, call.body)
	}
	var obj map[string]any
	err = json.Unmarshal(call.body, &obj)
	return obj, err
}

// collectionOf is the API collection of an object id, by its prefix.
func collectionOf(id string) (string, bool) {
	prefix, _, ok := strings.Cut(id, "_")
	if !ok {
		return "", false
	}
	c, ok := map[string]string{
		"ch": "charges", "py": "charges", "pi": "payment_intents", "re": "refunds", "cus": "customers",
		"in": "invoices", "sub": "subscriptions", "cs": "checkout/sessions", "dp": "disputes", "pm": "payment_methods",
		"seti": "setup_intents", "po": "payouts",
	}[prefix]
	return c, ok
}

func (p *Proxy) remember(obj map[string]any) {
	id, _ := obj["id"].(string)
	if id == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.objects[id]; !ok {
		p.order = append(p.order, id)
		if len(p.order) > maxObjects {
			delete(p.objects, p.order[0])
			p.order = p.order[1:]
		}
	}
	p.objects[id] = obj
}

func (p *Proxy) remembered(id string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	return clone(p.objects[id])
}

// clone is a deep copy of a decoded JSON object.
func clone(obj map[string]any) map[string]any {
	if obj == nil {
		return nil
	}
	b, _ := json.Marshal(obj)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_"+randomID(14))
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// relay answers with stripe-mock's answer as it came.
func relay(w http.ResponseWriter, call upstreamCall) {
	for k, vs := range call.header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(call.status)
	_, _ = w.Write(call.body)
}

func upstreamFailed(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusBadGateway, map[string]any{"error": map[string]any{
		"type": "api_error", "message": "stripeline development proxy: stripe-mock did not answer: " + err.Error()}})
}
