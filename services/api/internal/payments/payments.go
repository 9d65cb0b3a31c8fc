// Package payments is the api's use cases: charge a card or open a
// PaymentIntent through Stripe, say how to follow the payment's events, and
// (for the shop's servers) refund, capture and cancel.
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
	// Manual leaves the payment authorized, not captured: the shop's
	// server captures or cancels it later.
	Manual bool
}

// ChargeRequest is what a client asks to charge (the legacy Charges API).
type ChargeRequest struct {
	Payment
	Token string
}

// PaymentIntentRequest is what a client asks to pay with a PaymentIntent.
type PaymentIntentRequest struct {
	Payment
	PaymentMethod string // optional pm_…
	// Confirm confirms the PaymentIntent with PaymentMethod at once; Stripe
	// may then answer requires_action (3-D Secure), with next_action.
	Confirm   bool
	ReturnURL string // where a redirect-based next_action comes back to
}

// ConfirmRequest confirms an open PaymentIntent with a PaymentMethod.
type ConfirmRequest struct {
	ID, PaymentMethod string
	ReturnURL         string // where a redirect-based next_action comes back to
	IdempotencyKey    string
}

// RefundRequest gives back all or part of a charge or PaymentIntent.
type RefundRequest struct {
	Charge, PaymentIntent string // exactly one
	Amount                int64  // 0: what is left of it
	Reason                string // empty, duplicate, fraudulent or requested_by_customer
	Metadata              map[string]string
	IdempotencyKey        string
}

// CaptureRequest captures an authorized charge or PaymentIntent.
type CaptureRequest struct {
	ID             string
	Amount         int64 // 0: the whole authorization
	IdempotencyKey string
}

// CancelRequest releases an authorization, or abandons a PaymentIntent.
type CancelRequest struct {
	ID             string
	Reason         string // PaymentIntents only: Stripe's cancellation_reason
	IdempotencyKey string
}

// Subscribe tells the client how to receive the transaction's events.
type Subscribe struct {
	Channel   string    `json:"channel"`
	Selector  string    `json:"selector"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"` // the token's end: renew it before (RenewSubscription)
}

// Result is Stripe's object, as Stripe sent it, plus the subscribe block
// when the caller is a client that follows the payment.
type Result struct {
	Object    json.RawMessage
	ID        string
	Subscribe *Subscribe
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
	stripe    *client.API
	currency  string
	tokenKeys subtoken.Keys
	tokenTTL  time.Duration
	timeout   time.Duration // of one call, its retry included
	metrics   *Metrics
	tracer    trace.Tracer
	now       func() time.Time
}

// Config is what the Service needs.
type Config struct {
	SecretKey string
	APIBase   string
	Currency  string
	TokenKeys subtoken.Keys // the first signs
	TokenTTL  time.Duration
	// HTTPTimeout bounds one call to Stripe, its retry (stripe-go makes one
	// after a network error, a timeout or a 5xx) and the backoff before it
	// included; zero is 30 s. A handler makes one call: the api's
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
	return &Service{stripe: sc, currency: cfg.Currency, tokenKeys: cfg.TokenKeys, tokenTTL: cfg.TokenTTL, timeout: cfg.HTTPTimeout, metrics: cfg.Metrics, tracer: cfg.Tracer, now: time.Now}
}

// Charge creates a Stripe charge from a card token.
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (Result, error) {
	params := &stripe.ChargeParams{Source: &stripe.PaymentSourceSourceParams{Token: stripe.String(req.Token)}}
	params.Amount, params.Currency, params.Description = s.fields(&params.Params, req.Payment)
	if req.Manual {
		params.Capture = stripe.Bool(false)
	}
	res, err := s.call(ctx, CallCharge, &params.Params, func() (string, *stripe.APIResponse, error) {
		ch, err := s.stripe.Charges.New(params)
		if err != nil {
			return "", nil, err
		}
		return ch.ID, ch.LastResponse, nil
	})
	return s.followed(res), err
}

// CreatePaymentIntent opens a PaymentIntent. The client confirms it with
// Stripe.js using the client_secret of the answer, or asks Confirm here;
// either way a requires_action answer carries next_action and the
// client_secret, for Stripe.js to finish 3-D Secure.
func (s *Service) CreatePaymentIntent(ctx context.Context, req PaymentIntentRequest) (Result, error) {
	params := &stripe.PaymentIntentParams{}
	params.Amount, params.Currency, params.Description = s.fields(&params.Params, req.Payment)
	if req.PaymentMethod != "" {
		params.PaymentMethod = stripe.String(req.PaymentMethod)
	}
	if req.Manual {
		params.CaptureMethod = stripe.String(string(stripe.PaymentIntentCaptureMethodManual))
	}
	if req.Confirm {
		params.Confirm = stripe.Bool(true)
	}
	if req.ReturnURL != "" {
		params.ReturnURL = stripe.String(req.ReturnURL)
	}
	res, err := s.call(ctx, CallPaymentIntent, &params.Params, func() (string, *stripe.APIResponse, error) {
		pi, err := s.stripe.PaymentIntents.New(params)
		if err != nil {
			return "", nil, err
		}
		return pi.ID, pi.LastResponse, nil
	})
	return s.followed(res), err
}

// ConfirmPaymentIntent confirms a PaymentIntent with a PaymentMethod. A
// requires_action answer (3-D Secure) carries next_action and the
// client_secret, for Stripe.js to finish; the payer's bank decides after.
func (s *Service) ConfirmPaymentIntent(ctx context.Context, req ConfirmRequest) (Result, error) {
	params := &stripe.PaymentIntentConfirmParams{PaymentMethod: stripe.String(req.PaymentMethod)}
	if req.ReturnURL != "" {
		params.ReturnURL = stripe.String(req.ReturnURL)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	res, err := s.call(ctx, CallConfirm, &params.Params, func() (string, *stripe.APIResponse, error) {
		pi, err := s.stripe.PaymentIntents.Confirm(req.ID, params)
		if err != nil {
			return "", nil, err
		}
		return pi.ID, pi.LastResponse, nil
	})
	return s.followed(res), err
}

// Refund gives back all or part of a charge or a PaymentIntent's charge.
func (s *Service) Refund(ctx context.Context, req RefundRequest) (Result, error) {
	params := &stripe.RefundParams{}
	if req.Charge != "" {
		params.Charge = stripe.String(req.Charge)
	}
	if req.PaymentIntent != "" {
		params.PaymentIntent = stripe.String(req.PaymentIntent)
	}
	if req.Amount > 0 {
		params.Amount = stripe.Int64(req.Amount)
	}
	if req.Reason != "" {
		params.Reason = stripe.String(req.Reason)
	}
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return s.call(ctx, CallRefund, &params.Params, func() (string, *stripe.APIResponse, error) {
		re, err := s.stripe.Refunds.New(params)
		if err != nil {
			return "", nil, err
		}
		return re.ID, re.LastResponse, nil
	})
}

// CaptureCharge captures a charge made with capture false.
func (s *Service) CaptureCharge(ctx context.Context, req CaptureRequest) (Result, error) {
	params := &stripe.ChargeCaptureParams{}
	if req.Amount > 0 {
		params.Amount = stripe.Int64(req.Amount)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return s.call(ctx, CallCapture, &params.Params, func() (string, *stripe.APIResponse, error) {
		ch, err := s.stripe.Charges.Capture(req.ID, params)
		if err != nil {
			return "", nil, err
		}
		return ch.ID, ch.LastResponse, nil
	})
}

// CapturePaymentIntent captures a PaymentIntent in requires_capture.
func (s *Service) CapturePaymentIntent(ctx context.Context, req CaptureRequest) (Result, error) {
	params := &stripe.PaymentIntentCaptureParams{}
	if req.Amount > 0 {
		params.AmountToCapture = stripe.Int64(req.Amount)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return s.call(ctx, CallCapture, &params.Params, func() (string, *stripe.APIResponse, error) {
		pi, err := s.stripe.PaymentIntents.Capture(req.ID, params)
		if err != nil {
			return "", nil, err
		}
		return pi.ID, pi.LastResponse, nil
	})
}

// CancelCharge releases an uncaptured charge. The Charges API has no
// cancel: Stripe releases an authorization by refunding it, so the answer
// is that refund. A captured charge is refused (ErrCaptured) rather than
// refunded: moving money back is POST /Stripe/refunds' job.
func (s *Service) CancelCharge(ctx context.Context, req CancelRequest) (Result, error) {
	get := &stripe.ChargeParams{}
	params := &stripe.RefundParams{Charge: stripe.String(req.ID)}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return s.call(ctx, CallCancel, &params.Params, func() (string, *stripe.APIResponse, error) {
		get.Context = params.Context
		ch, err := s.stripe.Charges.Get(req.ID, get)
		if err != nil {
			return "", nil, err
		}
		if ch.Captured {
			return "", nil, ErrCaptured
		}
		re, err := s.stripe.Refunds.New(params)
		if err != nil {
			return "", nil, err
		}
		return re.ID, re.LastResponse, nil
	})
}

// CancelPaymentIntent cancels a PaymentIntent that has not succeeded.
func (s *Service) CancelPaymentIntent(ctx context.Context, req CancelRequest) (Result, error) {
	params := &stripe.PaymentIntentCancelParams{}
	if req.Reason != "" {
		params.CancellationReason = stripe.String(req.Reason)
	}
	params.SetIdempotencyKey(req.IdempotencyKey)
	return s.call(ctx, CallCancel, &params.Params, func() (string, *stripe.APIResponse, error) {
		pi, err := s.stripe.PaymentIntents.Cancel(req.ID, params)
		if err != nil {
			return "", nil, err
		}
		return pi.ID, pi.LastResponse, nil
	})
}

// ErrCaptured is a cancel of a charge already captured: only a refund gives
// that money back.
var ErrCaptured = capturedError{}

type capturedError struct{}

func (capturedError) Error() string {
	return "the charge is captured: it cannot be canceled, refund it instead (POST /Stripe/refunds)"
}

// call makes one call to Stripe, bounded by s.timeout as a whole: the
// exchange, stripe-go's retry and the backoff before it. stripe-go's
// backoff sleep does not watch the context, so do runs in a goroutine of
// its own and the caller gets its answer when the time is up; the
// goroutine ends by itself within that backoff, its request canceled.
//
// Each call is a span (startCall), the root of a trace of its own; a call
// that makes a payment (carriesTrace) leaves that span's traceparent in the
// object's metadata, for the webhooks' traces to link to.
func (s *Service) call(ctx context.Context, name string, p *stripe.Params, do func() (string, *stripe.APIResponse, error)) (res Result, err error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	ctx, span := s.startCall(ctx, name)
	defer func() { endCall(span, res.ID, err) }()
	if carriesTrace[name] {
		if k, v, ok := traceMetadata(ctx); ok {
			p.AddMetadata(k, v)
		}
	}
	p.Context = ctx
	type outcome struct {
		id   string
		resp *stripe.APIResponse
		err  error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		id, resp, err := do()
		done <- outcome{id, resp, err}
	}()
	var o outcome
	select {
	case o = <-done:
	case <-ctx.Done():
		select {
		case o = <-done: // it finished at the same moment: keep its answer
		default:
			o.err = ctx.Err()
		}
	}
	s.metrics.observe(name, time.Since(start), o.err)
	if o.err != nil {
		return Result{}, upstream("stripe "+name, o.err)
	}
	var raw json.RawMessage
	if o.resp != nil {
		raw = o.resp.RawJSON
	}
	return Result{Object: raw, ID: o.id}, nil
}

// carriesTrace are the calls whose object's metadata carries the call's
// traceparent: those that make a payment, whose webhooks follow.
var carriesTrace = map[string]bool{CallCharge: true, CallPaymentIntent: true}

// followed adds the subscribe block to a client's payment.
func (s *Service) followed(res Result) Result {
	if res.ID != "" {
		sub := s.subscribe(res.ID)
		res.Subscribe = &sub
	}
	return res
}

// fields sets what every payment's parameters carry and returns the amount,
// currency and description parameters.
func (s *Service) fields(p *stripe.Params, pay Payment) (amount *int64, currency, description *string) {
	currency = stripe.String(s.currency)
	if pay.Currency != "" {
		currency = stripe.String(pay.Currency)
	}
	if pay.Description != "" {
		description = stripe.String(pay.Description)
	}
	for k, v := range pay.Metadata {
		p.AddMetadata(k, v)
	}
	if pay.IdempotencyKey != "" {
		p.SetIdempotencyKey(pay.IdempotencyKey)
	}
	return stripe.Int64(pay.Amount), currency, description
}

// upstream keeps Stripe's own errors (and ours about Stripe's objects) as
// they are and marks every other failure of the call as Stripe being
// unavailable.
func upstream(op string, err error) error {
	switch err.(type) {
	case *stripe.Error, capturedError:
		return err
	}
	return &UpstreamError{Op: op, Err: err}
}

// subscribe is the subscribe block (docs/design.md, "HTTP routes"): channel,
// selector, and a token bound to id.
func (s *Service) subscribe(id string) Subscribe {
	s.metrics.TokensIssued.Inc()
	exp := s.now().Add(s.tokenTTL).Truncate(time.Second) // a token's expiry is in whole seconds
	return Subscribe{
		Channel:   "stripe",
		Selector:  "id = '" + strings.ReplaceAll(id, "'", "''") + "'",
		Token:     s.tokenKeys.Sign(id, exp),
		ExpiresAt: exp.UTC(),
	}
}

// RenewSubscription answers a subscribe block with a new token for id, given
// a token of id that is still valid: a client that keeps following a
// transaction past SUBSCRIPTION_TOKEN_TTL sends it to the notifier in a
// refresh frame before the old one expires. Errors are subtoken's.
func (s *Service) RenewSubscription(id, token string) (Subscribe, error) {
	if _, err := s.tokenKeys.Verify(token, id, s.now()); err != nil {
		return Subscribe{}, err
	}
	return s.subscribe(id), nil
}
