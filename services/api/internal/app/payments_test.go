package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// checkSubscribe asserts the subscribe block (docs/design.md, "HTTP routes")
// for the answer's id.
func checkSubscribe(t *testing.T, obj map[string]any) {
	t.Helper()
	id, _ := obj["id"].(string)
	sub, _ := obj["subscribe"].(map[string]any)
	if sub == nil || id == "" {
		t.Fatalf("answer has no id or no subscribe block: %v", obj)
	}
	if want := fmt.Sprintf("id = '%s'", id); sub["channel"] != "stripe" || sub["selector"] != want {
		t.Errorf("subscribe = %v, want channel stripe and selector %q", sub, want)
	}
	token, _ := sub["token"].(string)
	if err := subtoken.Verify([]byte(tokenSecret), token, id, time.Now()); err != nil {
		t.Errorf("subscribe token does not open %s: %v", id, err)
	}
}

func TestChargeEveryURLShape(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, s := range shapes("charge") {
		t.Run(s.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, s.path, `{"token":"tok_visa","amount":2000,"currency":"EUR","description":"order 7","metadata":{"order":"7"}}`, s.header)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			obj := r.json(t)
			if obj["object"] != "charge" || obj["amount"] != float64(2000) || !strings.HasPrefix(obj["id"].(string), "ch_") {
				t.Fatalf("answer is not the charge of 2000: %s", r.Body)
			}
			checkSubscribe(t, obj)
		})
	}
}

func TestPaymentIntentEveryURLShape(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, s := range shapes("payment-intents") {
		t.Run(s.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, s.path, `{"amount":1500,"currency":"usd","description":"order 8","metadata":{"order":"8"},"payment_method":"pm_card_visa"}`, s.header)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			obj := r.json(t)
			if obj["object"] != "payment_intent" || obj["amount"] != float64(1500) || !strings.HasPrefix(obj["id"].(string), "pi_") {
				t.Fatalf("answer is not the PaymentIntent of 1500: %s", r.Body)
			}
			// stripe-mock leaves every PaymentIntent here; Stripe.js confirms it.
			if secret, _ := obj["client_secret"].(string); !strings.Contains(secret, "_secret_") {
				t.Errorf("client_secret = %q", secret)
			}
			checkSubscribe(t, obj)
		})
	}
}

func TestConfigIsPublic(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, s := range shapes("config") {
		t.Run(s.name, func(t *testing.T) {
			r := a.do(t, http.MethodGet, s.path, "", nil)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			got := r.json(t)
			if got["publishable_key"] != "pk_test_publishable" || got["currency"] != "usd" || fmt.Sprint(got["currencies"]) != "[usd eur]" {
				t.Fatalf("config = %s", r.Body)
			}
		})
	}
}

func TestAuthentication(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	charge := `{"token":"tok_visa","amount":100}`
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		status int
		code   string
	}{
		{"no key", "/Stripe/charge", nil, 401, "missing_api_key"},
		{"wrong header key", "/Stripe/charge", map[string]string{"X-API-Key": "nope"}, 401, "invalid_api_key"},
		{"prefix of a key", "/Stripe/charge", map[string]string{"X-API-Key": apiKey[:3]}, 401, "invalid_api_key"},
		{"second key", "/Stripe/charge", map[string]string{"X-API-Key": apiKey2}, 200, ""},
		{"service path, no key", "/api/services/Stripe/charge", nil, 401, "missing_api_key"},
		{"app path, wrong key", "/app/nope/services/Stripe/charge", nil, 401, "invalid_api_key"},
		{"app path, right key, wrong header", "/app/" + apiKey + "/services/Stripe/charge", map[string]string{"X-API-Key": "nope"}, 401, "invalid_api_key"},
		{"app path, right key and header", "/app/" + apiKey + "/services/Stripe/charge", withKey, 200, ""},
		{"payment intents, no key", "/Stripe/payment-intents", nil, 401, "missing_api_key"},
		{"events, no key", "/Stripe/events?id=ch_1", nil, 401, "missing_api_key"},
		{"events, app path wrong key", "/app/nope/services/Stripe/events?id=ch_1", nil, 401, "invalid_api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, body := http.MethodPost, charge
			if strings.Contains(tc.path, "/events") {
				method, body = http.MethodGet, ""
			}
			r := a.do(t, method, tc.path, body, tc.header)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				if e := r.apiError(t); e["code"] != tc.code || e["type"] != "authentication_error" {
					t.Fatalf("error = %v, want code %s", e, tc.code)
				}
			}
		})
	}
	// The Backendless path carries the key: no log line may.
	if strings.Contains(a.logs.String(), "/"+apiKey+"/") {
		t.Fatalf("a log line holds the API key from the path:\n%s", a.logs)
	}
}

func TestAuthenticationOffWithoutKeys(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.APIKeys = nil
	cfg.AuthDisabled = true
	if err := cfg.Validate(); err != nil {
		t.Fatalf("API_AUTH_DISABLED=true without keys: %v", err)
	}
	a := startAPI(t, cfg)
	if r := a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, nil); r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if !strings.Contains(a.logs.String(), "API_KEYS is empty") {
		t.Fatalf("no warning that authentication is off in the log:\n%s", a.logs)
	}
}
