package loadgen

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ChargeConfig says how to call a charge route, or with Refund the refund
// route.
type ChargeConfig struct {
	Load
	// URL is the api's POST /Stripe/charge (or /Stripe/refunds), or with
	// Direct, a Stripe-compatible base URL whose /v1/charges (or
	// /v1/refunds) is called the way stripe-go calls it.
	URL    string
	Direct bool
	// Refund refunds a charge instead (stripe-mock refunds any id); APIKey is
	// then the api's admin key.
	Refund     bool
	APIKey     string // X-API-Key for the api; the secret key (Bearer) when Direct
	Token      string // card token, default tok_visa
	Amount     int64  // minor units, default 2000
	Currency   string // default usd
	Idempotent bool   // send an Idempotency-Key per request
}

// SendCharges calls the charge route under cfg's load.
func SendCharges(ctx context.Context, cfg ChargeConfig) Result {
	if cfg.Token == "" {
		cfg.Token = "tok_visa"
	}
	if cfg.Amount == 0 {
		cfg.Amount = 2000
	}
	if cfg.Currency == "" {
		cfg.Currency = "usd"
	}
	client := NewClient(cfg.Concurrency)
	g := Seeded(RandomSeed())
	return Run(ctx, cfg.Load, func(ctx context.Context) (int, error) {
		var req *http.Request
		var err error
		if cfg.Direct {
			path, form := "/v1/charges", url.Values{"amount": {itoa(cfg.Amount)}, "currency": {cfg.Currency}, "source": {cfg.Token}}
			if cfg.Refund {
				path, form = "/v1/refunds", url.Values{"charge": {"ch_bench"}, "amount": {itoa(cfg.Amount)}}
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(cfg.URL, "/")+path, strings.NewReader(form.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Authorization", "Bearer "+cfg.APIKey)
				req.Header.Set("Stripe-Version", "2023-10-16")
			}
		} else {
			body := `{"token":"` + cfg.Token + `","amount":` + itoa(cfg.Amount) + `,"currency":"` + cfg.Currency + `"}`
			if cfg.Refund {
				body = `{"charge":"ch_bench","amount":` + itoa(cfg.Amount) + `}`
			}
			req, err = http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, strings.NewReader(body))
			if err == nil {
				req.Header.Set("Content-Type", "application/json")
				if cfg.APIKey != "" {
					req.Header.Set("X-API-Key", cfg.APIKey)
				}
			}
		}
		if err != nil {
			return 0, err
		}
		if cfg.Idempotent {
			// The api takes only unguessable keys: 32 characters and more.
			req.Header.Set("Idempotency-Key", g.ID("load_")+g.ID("_"))
		}
		return status(client, req)
	})
}

func itoa(n int64) string {
	return strconv.FormatInt(n, 10)
}
