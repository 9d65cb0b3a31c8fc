package app

import (
	"fmt"
	"net/http"
	"testing"
)

// stripe-mock takes confirm, payment_method and return_url on creation and
// on the confirm route (it refuses parameters it does not know); it never
// asks for 3-D Secure, the stub below does.
func TestConfirmAgainstStripeMock(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	r := a.do(t, http.MethodPost, "/Stripe/payment-intents", `{"amount":2000,"payment_method":"pm_card_visa","confirm":true,"return_url":"https://shop.example/back"}`, withKey)
	obj := r.json(t)
	if r.Status != http.StatusOK || obj["object"] != "payment_intent" || obj["client_secret"] == nil {
		t.Fatalf("create and confirm: status %d: %s", r.Status, r.Body)
	}
	checkSubscribe(t, obj)
	for _, s := range shapes("payment-intents/pi_1/confirm") {
		t.Run(s.name, func(t *testing.T) {
			h := map[string]string{"X-Subscription-Token": mintToken("pi_1")}
			for k, v := range s.header {
				h[k] = v
			}
			r := a.do(t, http.MethodPost, s.path, `{"payment_method":"pm_card_visa"}`, h)
			if obj := r.json(t); r.Status != http.StatusOK || obj["object"] != "payment_intent" {
				t.Fatalf("confirm: status %d: %s", r.Status, r.Body)
			}
		})
	}
}

// When Stripe answers requires_action, the client gets next_action and the
// client_secret, for Stripe.js to finish 3-D Secure, both on creation with
// confirm and on the confirm route.
func TestRequiresActionReachesTheClient(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	for name, call := range map[string]func() reply{
		"create with confirm": func() reply {
			return a.do(t, http.MethodPost, "/Stripe/payment-intents", `{"amount":2000,"payment_method":"pm_card_threeDSecure2Required","confirm":true,"return_url":"https://shop.example/back"}`, withKey)
		},
		"confirm route": func() reply {
			return a.do(t, http.MethodPost, "/Stripe/payment-intents/pi_stub_1/confirm", `{"payment_method":"pm_card_threeDSecure2Required","return_url":"https://shop.example/back"}`,
				map[string]string{"X-API-Key": apiKey, "X-Subscription-Token": mintToken("pi_stub_1")})
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := call()
			obj := r.json(t)
			next, _ := obj["next_action"].(map[string]any)
			if r.Status != http.StatusOK || obj["status"] != "requires_action" || next["type"] != "use_stripe_sdk" || obj["client_secret"] != fmt.Sprint(obj["id"], "_secret_x") {
				t.Fatalf("status %d: %s; want requires_action with next_action and client_secret", r.Status, r.Body)
			}
			checkSubscribe(t, obj)
		})
	}
	forms := stub.forms()
	if len(forms) != 2 {
		t.Fatalf("Stripe got %d requests, want 2", len(forms))
	}
	for _, f := range forms {
		if f.Get("payment_method") != "pm_card_threeDSecure2Required" || f.Get("return_url") != "https://shop.example/back" {
			t.Errorf("Stripe got %v, want the payment method and return_url", f)
		}
	}
	if forms[0].Get("confirm") != "true" {
		t.Errorf("creation reached Stripe without confirm=true: %v", forms[0])
	}
}

// The confirm route acts on a payment: the API key, which every app holds,
// is not enough; it takes the PaymentIntent's own subscription token, even
// with API_EVENTS_REQUIRE_TOKEN off.
func TestConfirmNeedsThePaymentsToken(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.EventsRequireToken = false
	a := startAPI(t, cfg)
	body := `{"payment_method":"pm_card_visa"}`
	for _, tc := range []struct {
		name   string
		path   string
		body   string
		header map[string]string
		status int
		code   string
	}{
		{"no token", "/Stripe/payment-intents/pi_1/confirm", body, withKey, 401, "missing_subscription_token"},
		{"another id's token", "/Stripe/payment-intents/pi_1/confirm", body, map[string]string{"X-API-Key": apiKey, "X-Subscription-Token": mintToken("pi_2")}, 403, "subscription_token_wrong_id"},
		{"no payment method", "/Stripe/payment-intents/pi_1/confirm", `{}`, map[string]string{"X-API-Key": apiKey, "X-Subscription-Token": mintToken("pi_1")}, 400, "invalid_field"},
		{"bad return_url", "/Stripe/payment-intents/pi_1/confirm", `{"payment_method":"pm_card_visa","return_url":"javascript:alert(1)"}`, map[string]string{"X-API-Key": apiKey, "X-Subscription-Token": mintToken("pi_1")}, 400, "invalid_field"},
		{"confirm without a payment method", "/Stripe/payment-intents", `{"amount":100,"confirm":true}`, withKey, 400, "invalid_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, tc.path, tc.body, tc.header)
			if e := r.apiError(t); r.Status != tc.status || e["code"] != tc.code {
				t.Fatalf("status %d, error %v; want %d %s", r.Status, e, tc.status, tc.code)
			}
		})
	}
}
