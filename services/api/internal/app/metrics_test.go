package app

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/tools/testenv"
)

// scrape reads the ops handler's /metrics of a.
func (a *api) scrape(t *testing.T, cfgDB string) string {
	t.Helper()
	ops := httptest.NewServer(Ops(testenv.Pool(t, cfgDB), a.reg, nil))
	defer ops.Close()
	resp, err := http.Get(ops.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	return string(b)
}

// value is the value of the series line "name{labels}" in a scrape, -1
// when it is absent.
func value(t *testing.T, scrape, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(scrape, "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(rest, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return -1
}

func wantValue(t *testing.T, scrape, series string, want float64) {
	t.Helper()
	if got := value(t, scrape, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

// A charge against stripe-mock shows on the ops port's /metrics: the
// request by route pattern (never the path, which holds the API key), the
// Stripe call by outcome, the token issued. A second api in the process
// exports its own values.
func TestMetricsOfACharge(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	a := startAPI(t, cfg)
	other := startAPI(t, testConfig(t, stripeMockURL))

	if r := a.do(t, http.MethodPost, "/app-1/"+apiKey+"/services/Stripe/charge", `{"token":"tok_visa","amount":1500}`, nil); r.Status != http.StatusOK {
		t.Fatalf("charge: %d %s", r.Status, r.Body)
	}
	if r := a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, withKey); r.Status != http.StatusOK {
		t.Fatalf("payment intent: %d %s", r.Status, r.Body)
	}
	if r := a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":1500}`, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("charge without a key: %d, want 401", r.Status)
	}

	m := a.scrape(t, cfg.Database.URL)
	const backendless = `POST /{appID}/{apiKey}/services/Stripe/charge`
	wantValue(t, m, `stripeline_api_requests_total{route="`+backendless+`",status="200"}`, 1)
	wantValue(t, m, `stripeline_api_requests_total{route="POST /Stripe/payment-intents",status="200"}`, 1)
	wantValue(t, m, `stripeline_api_requests_total{route="POST /Stripe/charge",status="401"}`, 1)
	wantValue(t, m, `stripeline_api_request_seconds_count{route="`+backendless+`"}`, 1)
	wantValue(t, m, `stripeline_api_stripe_seconds_count{call="charge",outcome="ok"}`, 1)
	wantValue(t, m, `stripeline_api_stripe_seconds_count{call="payment_intent",outcome="ok"}`, 1)
	wantValue(t, m, `stripeline_api_stripe_seconds_count{call="charge",outcome="card_error"}`, 0)
	wantValue(t, m, `stripeline_api_tokens_issued_total`, 2)
	wantValue(t, m, `stripeline_api_rate_limited_total{limit="api_key"}`, 0)
	if value(t, m, "go_goroutines") < 1 {
		t.Error("no go_goroutines: the Go collector is not registered")
	}
	if strings.Contains(m, apiKey) || strings.Contains(m, "app-1") {
		t.Error("/metrics holds a request path: the API key leaks")
	}

	o := other.scrape(t, cfg.Database.URL)
	wantValue(t, o, `stripeline_api_requests_total{route="`+backendless+`",status="200"}`, -1)
	wantValue(t, o, `stripeline_api_stripe_seconds_count{call="charge",outcome="ok"}`, 0)
	wantValue(t, o, `stripeline_api_tokens_issued_total`, 0)
}

// Stripe's failures are timed under their outcome.
func TestMetricsOfStripeOutcomes(t *testing.T) {
	stub := startStripeStub(t)
	cfg := stubConfig(t, stub)
	a := startAPI(t, cfg)
	for desc, status := range map[string]int{"decline": 402, "invalid request": 400, "stripe api error": 502, "proxy page instead of JSON": 502, "stripe too slow": 504} {
		if r := a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100,"description":`+mustQuote(desc)+`}`, withKey); r.Status != status {
			t.Fatalf("%s: status %d, want %d: %s", desc, r.Status, status, r.Body)
		}
	}
	m := a.scrape(t, cfg.Database.URL)
	for outcome, n := range map[string]float64{"ok": 0, "card_error": 1, "stripe_error": 2, "unavailable": 1, "timeout": 1} {
		wantValue(t, m, `stripeline_api_stripe_seconds_count{call="charge",outcome="`+outcome+`"}`, n)
	}
	wantValue(t, m, `stripeline_api_requests_total{route="POST /Stripe/charge",status="402"}`, 1)
	wantValue(t, m, `stripeline_api_requests_total{route="POST /Stripe/charge",status="504"}`, 1)
	wantValue(t, m, `stripeline_api_tokens_issued_total`, 0)

	// Nothing listens: unavailable.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg = testConfig(t, "http://"+addr)
	down := startAPI(t, cfg)
	if r := down.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, withKey); r.Status != http.StatusBadGateway {
		t.Fatalf("unreachable: %d", r.Status)
	}
	wantValue(t, down.scrape(t, cfg.Database.URL), `stripeline_api_stripe_seconds_count{call="charge",outcome="unavailable"}`, 1)
}
