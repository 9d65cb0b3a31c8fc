package app

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"

	"github.com/stripeline/stripeline/tools/testenv"
)

const payBody = `{"amount":1500,"payment_method":"pm_card_visa"}`

// slow is a limit whose bucket does not refill within a test: the
// (burst+1)th request in a row is refused, with no timing in the assertion.
const slowRate = 0.001

// checkLimited asserts a 429 rate_limited answer with a Retry-After in seconds.
func checkLimited(t *testing.T, r reply) {
	t.Helper()
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", r.Status, r.Body)
	}
	if e := r.apiError(t); e["code"] != "rate_limited" || e["type"] != "rate_limited" {
		t.Fatalf("error = %v, want type and code rate_limited", e)
	}
	if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", r.Header.Get("Retry-After"))
	}
}

func checkOK(t *testing.T, r reply) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", r.Status, r.Body)
	}
}

func TestRateLimitPerKey(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.RatePerKey, cfg.RatePerKeyBurst = slowRate, 2
	a := startAPI(t, cfg)

	checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, withKey))
	checkOK(t, a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, withKey))
	// The burst is spent, across both routes and every URL shape of the key.
	checkLimited(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, withKey))
	checkLimited(t, a.do(t, http.MethodPost, "/api/services/Stripe/charge", `{"token":"tok_visa","amount":100}`, withKey))
	checkLimited(t, a.do(t, http.MethodPost, "/app/"+apiKey+"/services/Stripe/payment-intents", payBody, nil))

	// Another key, same address: its own bucket.
	key2 := map[string]string{"X-API-Key": apiKey2}
	checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, key2))
	// Reading events and the config are not limited.
	if r := a.do(t, http.MethodGet, "/Stripe/config", "", withKey); r.Status != http.StatusOK {
		t.Fatalf("GET /Stripe/config: %d", r.Status)
	}

	// The refusals are counted on the ops listener's /metrics.
	ops := httptest.NewServer(Ops(testenv.Pool(t, cfg.Database.URL), a.reg, nil))
	defer ops.Close()
	resp, err := http.Get(ops.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	got := regexp.MustCompile(`stripeline_api_rate_limited_total\{limit="api_key"\} (\d+)`).FindSubmatch(metrics)
	if got == nil {
		t.Fatalf("no stripeline_api_rate_limited_total{limit=\"api_key\"} on /metrics")
	}
	if n, _ := strconv.Atoi(string(got[1])); n < 3 {
		t.Fatalf("stripeline_api_rate_limited_total{limit=\"api_key\"} = %d, want >= 3", n)
	}
}

func TestRateLimitPerAddress(t *testing.T) {
	t.Run("direct peer", func(t *testing.T) {
		cfg := testConfig(t, stripeMockURL)
		cfg.RatePerAddr, cfg.RatePerAddrBurst = slowRate, 2
		a := startAPI(t, cfg)
		// Without trusted proxies X-Forwarded-For is the client's own word: ignored.
		for _, fwd := range []string{"203.0.113.1", "203.0.113.2"} {
			checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, map[string]string{"X-API-Key": apiKey, "X-Forwarded-For": fwd}))
		}
		// Another key does not help: the address's bucket is spent.
		checkLimited(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, map[string]string{"X-API-Key": apiKey2, "X-Forwarded-For": "203.0.113.3"}))
	})

	t.Run("behind a trusted proxy", func(t *testing.T) {
		cfg := testConfig(t, stripeMockURL)
		cfg.RatePerAddr, cfg.RatePerAddrBurst = slowRate, 2
		cfg.TrustedProxies = []string{"127.0.0.1", "::1", "10.0.0.0/8"}
		a := startAPI(t, cfg)
		from := func(fwd string) map[string]string {
			return map[string]string{"X-API-Key": apiKey, "X-Forwarded-For": fwd}
		}
		checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, from("198.51.100.7")))
		// A second trusted hop (10.1.2.3) is skipped; the client is still 198.51.100.7.
		checkOK(t, a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, from("198.51.100.7, 10.1.2.3")))
		checkLimited(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, from("198.51.100.7")))
		// What the client writes left of the proxy's entry changes nothing.
		checkLimited(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, from("192.0.2.99, 198.51.100.7")))
		// Another address is unaffected.
		checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, from("198.51.100.8")))
	})
}

func TestRateLimitsOff(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.RatePerKey, cfg.RatePerKeyBurst = 0, 1
	cfg.RatePerAddr, cfg.RatePerAddrBurst = 0, 1
	a := startAPI(t, cfg)
	for range 6 {
		checkOK(t, a.do(t, http.MethodPost, "/Stripe/payment-intents", payBody, withKey))
	}
}
