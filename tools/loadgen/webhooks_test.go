package loadgen

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stripe/stripe-go/v76/webhook"
)

// The sender's webhooks verify with stripe-go, and what it reports is what
// the server saw.
func TestSendWebhooksSignsAndCounts(t *testing.T) {
	var ok, bad atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), "whsec_test") != nil {
			bad.Add(1)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if ok.Add(1)%10 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	res, err := SendWebhooks(context.Background(), WebhookConfig{Load: Load{Concurrency: 4, Count: 100}, URL: srv.URL, Secret: "whsec_test"})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Load() != 0 {
		t.Fatalf("%d webhooks did not verify", bad.Load())
	}
	if res.Sent != 100 || res.Accepted != 90 || res.Statuses[503] != 10 || res.Latency.Count != 100 {
		t.Fatalf("result = %+v, want 100 sent, 90 accepted, 10 × 503", res)
	}
}
