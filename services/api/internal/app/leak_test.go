package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/tools/testenv"
)

// TestSecretKeyNeverLeaks runs every error path of the api, some against a
// Stripe that puts the secret key in its own answers, and searches every
// answer and log line for the key and for pieces of it.
func TestSecretKeyNeverLeaks(t *testing.T) {
	stub := startStripeStub(t)
	cfg := stubConfig(t, stub)
	// The event store is unreachable too, for its error path.
	cfg.Database.URL = testenv.DatabaseURL("stripeline_missing_db_for_leak_test")
	a := startAPI(t, cfg)

	var replies []reply
	call := func(method, path, body string, header map[string]string) {
		replies = append(replies, a.do(t, method, path, body, header))
	}
	for _, f := range stripeFailures {
		call(http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100,"description":`+mustQuote(f.name)+`}`, withKey)
		call(http.MethodPost, "/"+"app/"+apiKey+"/services/Stripe/payment-intents", `{"amount":100,"description":`+mustQuote(f.name)+`}`, nil)
	}
	for _, body := range []string{``, `{`, `{"amount":1.5,"token":"t"}`, `{"token":"t","amount":1,"currency":"xxx"}`, `{"x":1}`} {
		call(http.MethodPost, "/Stripe/charge", body, withKey)
	}
	call(http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, nil)
	call(http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, map[string]string{"X-API-Key": "wrong"})
	call(http.MethodGet, "/Stripe/events?id=ch_1", "", withKey)                          // no token
	call(http.MethodGet, "/Stripe/events?id=ch_1&token=forged", "", withKey)             // bad token
	call(http.MethodGet, "/Stripe/events?id=ch_1&limit=0", "", withKey)                  // bad limit
	call(http.MethodGet, "/Stripe/events?id=ch_1&token="+mintToken("ch_1"), "", withKey) // store down
	call(http.MethodGet, "/Stripe/config", "", nil)

	seen := map[int]bool{}
	for _, r := range replies {
		seen[r.Status] = true
		text := fmt.Sprint(r.Header) + string(r.Body)
		for _, secret := range []string{secretKey, secretTail, "LeakCanary", tokenSecret} {
			if strings.Contains(text, secret) {
				t.Errorf("an answer (status %d) holds %q: %s", r.Status, secret, text)
			}
		}
	}
	for _, status := range []int{200, 400, 401, 402, 403, 409, 429, 502, 503, 504} {
		if !seen[status] {
			t.Errorf("no answer had status %d: the test no longer covers that path", status)
		}
	}
	logs := a.logs.String()
	if strings.Count(logs, `"request failed"`) < 5 || strings.Count(logs, `"request refused"`) < 10 {
		t.Fatalf("too few error log lines captured; the log search would prove nothing:\n%s", logs)
	}
	for _, secret := range []string{secretKey, secretTail, "LeakCanary", tokenSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds %q:\n%s", secret, logs)
		}
	}
}
