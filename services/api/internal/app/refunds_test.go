package app

import (
	"net/http"
	"strings"
	"testing"
)

// The admin routes against stripe-mock: each reaches Stripe with an admin
// key and answers Stripe's object, with no subscribe block.
func TestAdminRoutesAgainstStripeMock(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, c := range []struct {
		path, body, object string
	}{
		{"/Stripe/refunds", `{"charge":"ch_1","amount":500,"reason":"requested_by_customer","metadata":{"order":"7"}}`, "refund"},
		{"/Stripe/refunds", `{"payment_intent":"pi_1"}`, "refund"},
		{"/Stripe/charges/ch_1/capture", `{"amount":1500}`, "charge"},
		{"/Stripe/charges/ch_1/capture", ``, "charge"},
		{"/Stripe/payment-intents/pi_1/capture", `{"amount":1500}`, "payment_intent"},
		{"/Stripe/payment-intents/pi_1/cancel", `{"reason":"abandoned"}`, "payment_intent"},
		// stripe-mock's charge is not captured: canceling it refunds it.
		{"/Stripe/charges/ch_1/cancel", ``, "refund"},
	} {
		t.Run(c.path+" "+c.body, func(t *testing.T) {
			r := a.do(t, http.MethodPost, c.path, c.body, withAdmin)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			obj := r.json(t)
			if obj["object"] != c.object {
				t.Fatalf("object = %v, want %s: %s", obj["object"], c.object, r.Body)
			}
			if _, ok := obj["subscribe"]; ok {
				t.Errorf("an admin answer carries a subscribe block: %s", r.Body)
			}
		})
	}
}

// capture false authorizes only: Stripe gets capture=false on a charge and
// capture_method=manual on a PaymentIntent (stripe-mock refuses unknown
// parameters and values, so a wrong name fails here).
func TestCaptureFalseAuthorizesOnly(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, c := range []struct{ route, body string }{
		{"charge", `{"token":"tok_visa","amount":2000,"capture":false}`},
		{"payment-intents", `{"amount":2000,"capture":false}`},
		{"payment-intents", `{"amount":2000,"capture":true}`},
	} {
		if r := a.do(t, http.MethodPost, "/Stripe/"+c.route, c.body, withKey); r.Status != http.StatusOK {
			t.Fatalf("%s %s: status %d: %s", c.route, c.body, r.Status, r.Body)
		}
	}
	stub := startStripeStub(t)
	b := startAPI(t, stubConfig(t, stub))
	b.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":2000,"capture":false}`, withKey)
	b.do(t, http.MethodPost, "/Stripe/payment-intents", `{"amount":2000,"capture":false}`, withKey)
	forms := stub.forms()
	if len(forms) != 2 || forms[0].Get("capture") != "false" || forms[1].Get("capture_method") != "manual" {
		t.Fatalf("Stripe got %v; want capture=false, then capture_method=manual", forms)
	}
}

// A charge authorized with capture false is released by refunding it
// (the Charges API has no cancel); the answer is that refund.
func TestCancelUncapturedCharge(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	r := a.do(t, http.MethodPost, "/Stripe/charges/ch_uncaptured_1/cancel", `{}`, withAdmin)
	if obj := r.json(t); r.Status != http.StatusOK || obj["object"] != "refund" {
		t.Fatalf("status %d: %s; want 200 and the refund", r.Status, r.Body)
	}
	r = a.do(t, http.MethodPost, "/Stripe/charges/ch_captured_1/cancel", ``, withAdmin)
	if e := r.apiError(t); r.Status != http.StatusBadRequest || e["code"] != "charge_already_captured" {
		t.Fatalf("status %d, %v; want 400 charge_already_captured", r.Status, e)
	}
}

// Moving money back takes an admin key, in the header, on the plain URL
// only: a client key (which ships inside apps) gets 403, and the Backendless
// URL shapes, one of which carries the key in its path, do not serve the
// admin routes at all.
func TestAdminRoutesNeedAnAdminKey(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	refund := `{"charge":"ch_1"}`
	for _, tc := range []struct {
		name   string
		path   string
		header map[string]string
		status int
		code   string
	}{
		{"no key", "/Stripe/refunds", nil, 401, "missing_api_key"},
		{"client key", "/Stripe/refunds", withKey, 403, "admin_key_required"},
		{"second client key", "/Stripe/charges/ch_1/capture", map[string]string{"X-API-Key": apiKey2}, 403, "admin_key_required"},
		{"wrong key", "/Stripe/payment-intents/pi_1/cancel", map[string]string{"X-API-Key": "nope-nope-nope-nope"}, 401, "invalid_api_key"},
		{"admin key", "/Stripe/refunds", withAdmin, 200, ""},
		{"service path", "/api/services/Stripe/refunds", withAdmin, 404, ""},
		{"app path with the admin key", "/app/" + adminKey + "/services/Stripe/refunds", nil, 404, ""},
		{"app path, capture", "/app/" + apiKey + "/services/Stripe/charges/ch_1/capture", withAdmin, 404, ""},
		{"admin key on a client route", "/Stripe/charge", withAdmin, 401, "invalid_api_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := refund
			if tc.path == "/Stripe/charge" {
				body = `{"token":"tok_visa","amount":100}`
			}
			r := a.do(t, http.MethodPost, tc.path, body, tc.header)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				if e := r.apiError(t); e["code"] != tc.code {
					t.Fatalf("error = %v, want code %s", e, tc.code)
				}
			}
		})
	}
	if strings.Contains(a.logs.String(), adminKey) {
		t.Fatalf("a log line holds the admin key:\n%s", a.logs)
	}

	cfg := testConfig(t, stripeMockURL)
	cfg.AdminAPIKeys = nil
	off := startAPI(t, cfg)
	r := off.do(t, http.MethodPost, "/Stripe/refunds", refund, withAdmin)
	if e := r.apiError(t); r.Status != http.StatusForbidden || e["code"] != "admin_keys_not_set" {
		t.Fatalf("without ADMIN_API_KEYS: status %d, %v; want 403 admin_keys_not_set", r.Status, e)
	}
}

func TestAdminInputRules(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	for _, tc := range []struct {
		name, path, body, field, rule string
	}{
		{"no id", "/Stripe/refunds", `{"amount":100}`, "charge", "or payment_intent is required"},
		{"both ids", "/Stripe/refunds", `{"charge":"ch_1","payment_intent":"pi_1"}`, "charge", "not both"},
		{"bad id", "/Stripe/refunds", `{"payment_intent":"pi_1/../../v1/payouts"}`, "payment_intent", "must be a Stripe id"},
		{"fraction", "/Stripe/refunds", `{"charge":"ch_1","amount":1.5}`, "amount", "must be an integer"},
		{"zero amount", "/Stripe/charges/ch_1/capture", `{"amount":0}`, "amount", "must be positive"},
		{"reason", "/Stripe/refunds", `{"charge":"ch_1","reason":"because"}`, "reason", "must be one of duplicate, fraudulent, requested_by_customer"},
		{"cancel reason", "/Stripe/payment-intents/pi_1/cancel", `{"reason":"automatic"}`, "reason", "must be one of abandoned"},
		{"escaped slash in the path id", "/Stripe/charges/ch_1%2Fx/capture", ``, "id", "must be a Stripe id"},
		{"unknown field", "/Stripe/charges/ch_1/cancel", `{"reason":"duplicate"}`, "reason", "is not a known field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, tc.path, tc.body, withAdmin)
			e := r.apiError(t)
			msg, _ := e["message"].(string)
			if r.Status != http.StatusBadRequest || e["field"] != tc.field || !strings.Contains(msg, tc.rule) {
				t.Fatalf("status %d, error %v; want 400 on %s with %q", r.Status, e, tc.field, tc.rule)
			}
		})
	}
}

// refundFailures are Stripe's answers to a refund it refuses, picked by the
// stub from metadata[case]; they map as every Stripe error does.
var refundFailures = []struct {
	name        string
	answer      stubAnswer
	status      int
	code, field string
}{
	{"already refunded", stubAnswer{status: 400, body: `{"error":{"type":"invalid_request_error","code":"charge_already_refunded","message":"Charge ch_1 has already been refunded."}}`}, 400, "charge_already_refunded", ""},
	{"amount too large", stubAnswer{status: 400, body: `{"error":{"type":"invalid_request_error","code":"amount_too_large","param":"amount","message":"Refund amount ($30.00) is greater than unrefunded amount on charge ($20.00)"}}`}, 400, "amount_too_large", "amount"},
	{"disputed", stubAnswer{status: 400, body: `{"error":{"type":"invalid_request_error","code":"charge_disputed","message":"Charge ch_1 has been charged back; cannot issue a refund."}}`}, 400, "charge_disputed", ""},
	{"no such charge", stubAnswer{status: 404, body: `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"charge","message":"No such charge: 'ch_nope'"}}`}, 400, "resource_missing", "charge"},
}

func TestRefundErrorsMap(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	for _, f := range refundFailures {
		t.Run(f.name, func(t *testing.T) {
			r := a.do(t, http.MethodPost, "/Stripe/refunds", `{"charge":"ch_1","amount":3000,"metadata":{"case":`+mustQuote(f.name)+`}}`, withAdmin)
			e := r.apiError(t)
			if r.Status != f.status || e["type"] != "invalid_request" || e["code"] != f.code || (f.field != "" && e["field"] != f.field) {
				t.Fatalf("status %d, error %v; want %d invalid_request %s field %q", r.Status, e, f.status, f.code, f.field)
			}
		})
	}
}

// A refund retried with its Idempotency-Key is Stripe's replay, never a
// second refund; the key reaches Stripe scoped, as the client routes' do.
func TestRefundRetryIsIdempotent(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	h := map[string]string{"X-API-Key": adminKey, "Idempotency-Key": "5f0c8d3a-7b21-4e9a-9c64-2d1b8e7f3a90"}
	first := a.do(t, http.MethodPost, "/Stripe/refunds", `{"charge":"ch_1","amount":500,"metadata":{"case":"retry"}}`, h).json(t)
	again := a.do(t, http.MethodPost, "/Stripe/refunds", `{"charge":"ch_1","amount":500,"metadata":{"case":"retry"}}`, h).json(t)
	if first["id"] == nil || first["id"] != again["id"] {
		t.Fatalf("a retried refund got %v then %v, want the same refund", first["id"], again["id"])
	}
	other := a.do(t, http.MethodPost, "/Stripe/refunds", `{"charge":"ch_1","amount":500,"metadata":{"case":"retry"}}`, map[string]string{"X-API-Key": adminKey}).json(t)
	if other["id"] == first["id"] {
		t.Fatalf("a refund without the key was the replay of the first")
	}
	if keys := stub.keys("retry"); len(keys) != 3 || keys[0] != keys[1] || !strings.HasPrefix(keys[0], "stripeline-c-") {
		t.Fatalf("Idempotency-Keys at Stripe = %q, want the first two equal and scoped", keys)
	}
}
