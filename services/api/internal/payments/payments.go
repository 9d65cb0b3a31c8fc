// Package payments is the api's use cases: charge a card and say how to
// follow the payment's events.
package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// ChargeRequest is what a client asks to charge.
type ChargeRequest struct {
	Token          string
	Amount         int64
	Currency       string // empty: the configured one
	Description    string
	Metadata       map[string]string
	IdempotencyKey string
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

// Service charges through Stripe.
type Service struct {
	stripe      *client.API
	currency    string
	tokenSecret []byte
	tokenTTL    time.Duration
	now         func() time.Time
}

// Config is what the Service needs.
type Config struct {
	SecretKey   string
	APIBase     string
	Currency    string
	TokenSecret []byte
	TokenTTL    time.Duration
	HTTPTimeout time.Duration
}

// New builds a Service talking to Stripe (or stripe-mock) at cfg.APIBase.
func New(cfg Config) *Service {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(cfg.APIBase),
		MaxNetworkRetries: stripe.Int64(1),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	sc := client.New(cfg.SecretKey, &stripe.Backends{API: backend, Connect: backend, Uploads: backend})
	return &Service{stripe: sc, currency: cfg.Currency, tokenSecret: cfg.TokenSecret, tokenTTL: cfg.TokenTTL, now: time.Now}
}

// Charge creates a Stripe charge from a card token.
func (s *Service) Charge(ctx context.Context, req ChargeRequest) (Result, error) {
	currency := req.Currency
	if currency == "" {
		currency = s.currency
	}
	params := &stripe.ChargeParams{
		Amount:   stripe.Int64(req.Amount),
		Currency: stripe.String(currency),
		Source:   &stripe.PaymentSourceSourceParams{Token: stripe.String(req.Token)},
	}
	if req.Description != "" {
		params.Description = stripe.String(req.Description)
	}
	for k, v := range req.Metadata {
		params.AddMetadata(k, v)
	}
	params.Context = ctx
	if req.IdempotencyKey != "" {
		params.SetIdempotencyKey(req.IdempotencyKey)
	}
	ch, err := s.stripe.Charges.New(params)
	if err != nil {
		return Result{}, fmt.Errorf("stripe charge: %w", err)
	}
	return s.result(ch.ID, ch.LastResponse)
}

func (s *Service) result(id string, resp *stripe.APIResponse) (Result, error) {
	var raw json.RawMessage
	if resp != nil {
		raw = resp.RawJSON
	}
	return Result{Object: raw, ID: id, Subscribe: s.subscribe(id)}, nil
}

// subscribe is the block of DESIGN.md: channel, selector, and a token bound to id.
func (s *Service) subscribe(id string) Subscribe {
	return Subscribe{
		Channel:  "stripe",
		Selector: "id = '" + strings.ReplaceAll(id, "'", "''") + "'",
		Token:    subtoken.Sign(s.tokenSecret, id, s.now().Add(s.tokenTTL)),
	}
}
