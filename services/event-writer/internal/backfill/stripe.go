package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/form"
)

// Page is one page of Stripe's event list: each event's JSON exactly as the
// list answered it (decoding into stripe.Event and encoding again would
// drop the fields stripe-go does not know), newest first.
type Page struct {
	Events  []json.RawMessage
	HasMore bool
}

// Stripe lists events through stripe-go's backend: its authentication,
// retry and error decoding, with the page's raw body kept.
type Stripe struct {
	backend stripe.Backend
	key     string
}

// PageSize is how many events one request asks for: Stripe's most.
const PageSize = 100

// NewStripe talks to Stripe (or stripe-mock) at apiBase with key, a
// restricted key that can only read events suffices. timeout bounds each
// request, its retry included.
func NewStripe(key, apiBase string, timeout time.Duration) *Stripe {
	backend := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(apiBase),
		HTTPClient:        &http.Client{Timeout: timeout},
		MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	return &Stripe{backend: backend, key: key}
}

// List reads the page of events created at or after since that follows
// the event startingAfter (empty: the newest).
func (s *Stripe) List(ctx context.Context, since time.Time, startingAfter string) (Page, error) {
	params := &stripe.EventListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: since.Unix()}}
	params.Context = ctx
	params.Limit = stripe.Int64(PageSize)
	if startingAfter != "" {
		params.StartingAfter = stripe.String(startingAfter)
	}
	// As stripe-go's own event.Client.List sends it, one page at a time.
	query := &form.Values{}
	form.AppendTo(query, params)
	list := &stripe.EventList{}
	if err := s.backend.CallRaw(http.MethodGet, "/v1/events", s.key, query, params.GetParams(), list); err != nil {
		return Page{}, fmt.Errorf("list stripe events: %w", err)
	}
	var page struct {
		Data    []json.RawMessage `json:"data"`
		HasMore bool              `json:"has_more"`
	}
	if list.LastResponse == nil {
		return Page{}, fmt.Errorf("list stripe events: no answer kept")
	}
	if err := json.Unmarshal(list.LastResponse.RawJSON, &page); err != nil {
		return Page{}, fmt.Errorf("list stripe events: %w", err)
	}
	return Page{Events: page.Data, HasMore: page.HasMore}, nil
}
