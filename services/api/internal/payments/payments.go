// Package payments is the api's use cases: charge a card or open a
// PaymentIntent through Stripe, and say how to follow the payment's events.
package payments

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// Payment is what every way of paying asks: how much, and what Stripe
// should record with it.
type Payment struct {
	Amount         int64
	Currency       string // empty: the configured one
	Description    string
	Metadata       map[string]string
	IdempotencyKey string
}

// ChargeRequest is what a client asks to charge (the legacy Charges API).
type ChargeRequest struct {
	Payment
	Token string
}

// PaymentIntentRequest is what a client asks to pay with a PaymentIntent.
type PaymentIntentRequest struct {
	Payment
	PaymentMethod string // optional pm_…, attached but not confirmed
}

// Subscribe tells the client how to receive the transaction's events.
type Subscribe struct {
	Channel  string `json:"channel"`
	Selector string `json:"selector"`
	Token    string `json:"token"`
}

// Result is Stripe's object, as Stripe sent it, plus the subscribe block.
type Result struct {
	Object    json.RawMessage
	ID        string
	Subscribe Subscribe
}

// UpstreamError is a call to Stripe that got no Stripe answer: the network
// failed, the deadline passed, or the body was not Stripe's JSON. Errors
// Stripe itself answered are *stripe.Error and are not wrapped in this.
type UpstreamError struct {
	Op  string
	Err error
}

func (e *UpstreamError) Error() string { return e.Op + ": " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// Service talks to Stripe.
type Service struct {
	stripe      *client.API
	currency    string
	tokenSecret []byte
	tokenTTL    time.Duration
	timeout     time.Duration // of one call, its retry included
	metrics     *Metrics
	tracer      trace.Tracer
	now         func() time.Time
}

// Config is what the Service needs.
type Config struct {
	SecretKey   string
	APIBase     string
	Currency    string
	TokenSecret []byte
	TokenTTL    time.Duration
	// HTTPTimeout bounds one call to Stripe, its retry (stripe-go makes one
	// after a network error or a timeout) included, so also each HTTP
	// exchange; zero is 30 s. A handler makes one call: the api's
	// API_WRITE_TIMEOUT must exceed it for the 504 to reach the client.
	HTTPTimeout time.Duration
	// Metrics are where the calls are counted; nil counts on a registry of
	// its own that nothing serves.
	Metrics *Metrics
	// Tracer, when set, makes each call to Stripe a trace of its own
	// (trace.go), and Transport, when set, carries the HTTP exchanges
	// (tracing.Transport gives them client spans).
	Tracer    trace.Tracer
	Transport http.RoundTripper
}

// New builds a Service talking to Stripe (or stripe-mock) at cfg.APIBase.
func New(cfg Config) *Service {
	if cfg.HTTPTimeout <= 0 {
		cfg.HTTPTimeout = 30 * time.Second
	}
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIBase),
		HTTPClient:        &http.Client{Timeout: cfg.HTTPTimeout, Transport: cfg.Transport},
		MaxNetworkRetries: stripe.Int64(1),
		// stripe-go's own logging would print request details we do not vet.
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(prometheus.NewRegistry()) // a fresh registry never conflicts
	}
	return &Service{stripe: sc, currency: cfg.Currency, tokenSecret: cfg.TokenSecret, tokenTTL: cfg.TokenTTL, timeout: cfg.HTTPTimeout, metrics: cfg.Metrics, tracer: cfg.Tracer, now: time.Now}
}

// Charge creates a Stripe charge from a card token.
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (Result, error) {
	// Without it, a first exchange that times out is retried with as long
	// again: twice STRIPE_TIMEOUT and a backoff, past API_WRITE_TIMEOUT.
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ctx, span := s.startCall(ctx, CallCharge)
	params := &stripe.ChargeParams{Source: &stripe.PaymentSourceSourceParams{Token: stripe.String(req.Token)}}
	params.Amount, params.Currency, params.Description = s.fields(ctx, &params.Params, req.Payment)
	start := time.Now()
	ch, err := s.stripe.Charges.New(params)
	s.metrics.observe(CallCharge, time.Since(start), err)
	if err != nil {
		endCall(span, "", err)
		return Result{}, upstream("stripe charge", err)
	}
	endCall(span, ch.ID, nil)
	return s.result(ch.ID, ch.LastResponse), nil
}

// CreatePaymentIntent opens a PaymentIntent; the client confirms it with
// Stripe.js using the client_secret of the answer.
func (s *Service) CreatePaymentIntent(ctx context.Context, req PaymentIntentRequest) (Result, error) {
	// Without it, a first exchange that times out is retried with as long
	// again: twice STRIPE_TIMEOUT and a backoff, past API_WRITE_TIMEOUT.
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ctx, span := s.startCall(ctx, CallPaymentIntent)
	params := &stripe.PaymentIntentParams{}
	params.Amount, params.Currency, params.Description = s.fields(ctx, &params.Params, req.Payment)
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	start := time.Now()
	pi, err := s.stripe.PaymentIntents.New(params)
	s.metrics.observe(CallPaymentIntent, time.Since(start), err)
	if err != nil {
		endCall(span, "", err)
		return Result{}, upstream("stripe payment intent", err)
	}
	endCall(span, pi.ID, nil)
	return s.result(pi.ID, pi.LastResponse), nil
}

// fields sets what every payment's parameters carry and returns the amount,
// currency and description parameters.
func (s *Service) fields(ctx context.Context, p *stripe.Params, pay Payment) (amount *int64, currency, description *string) {
	currency = stripe.String(s.currency)
	if pay.Currency != "" {
		currency = stripe.String(pay.Currency)
	}
	if pay.Description != "" {
		description = stripe.String(pay.Description)
	}
	p.Context = ctx
	for k, v := range pay.Metadata {
		p.AddMetadata(k, v)
	}
	if k, v, ok := traceMetadata(ctx); ok {
		p.AddMetadata(k, v)
	}
	if pay.IdempotencyKey != "" {
		p.SetIdempotencyKey(pay.IdempotencyKey)
	}
	return stripe.Int64(pay.Amount), currency, description
}

// upstream keeps Stripe's own errors as they are and marks every other
// failure of the call as Stripe being unavailable.
func upstream(op string, err error) error {
	if _, ok := err.(*stripe.Error); ok {
		return err
	}
	return &UpstreamError{Op: op, Err: err}
}

func (s *Service) result(id string, resp *stripe.APIResponse) Result {
	var raw json.RawMessage
	if resp != nil {
		raw = resp.RawJSON
	}
	return Result{Object: raw, ID: id, Subscribe: s.subscribe(id)}
}

// subscribe is the subscribe block (docs/design.md, "HTTP routes"): channel,
// selector, and a token bound to id.
func (s *Service) subscribe(id string) Subscribe {
	s.metrics.TokensIssued.Inc()
	return Subscribe{
		Channel:  "stripe",
		Selector: "id = '" + strings.ReplaceAll(id, "'", "''") + "'",
		Token:    subtoken.Sign(s.tokenSecret, id, s.now().Add(s.tokenTTL)),
	}
}
