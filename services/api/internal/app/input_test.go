package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestInputRules(t *testing.T) {
	a := startAPI(t, testConfig(t, stripeMockURL))
	var b strings.Builder
	for i := range 51 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":"v"`, i)
	}
	fiftyOne := "{" + b.String() + "}"

	for _, tc := range []struct {
		name   string
		route  string
		body   string
		header map[string]string
		status int
		field  string
		rule   string // a piece of the message
	}{
		{"fraction", "charge", `{"token":"tok_visa","amount":20.5}`, nil, 400, "amount", "must be an integer in the currency's minor unit"},
		{"exponent", "charge", `{"token":"tok_visa","amount":2e3}`, nil, 400, "amount", "must be an integer"},
		{"string amount", "charge", `{"token":"tok_visa","amount":"2000"}`, nil, 400, "amount", "not a string"},
		{"zero", "charge", `{"token":"tok_visa","amount":0}`, nil, 400, "amount", "must be positive"},
		{"negative", "payment-intents", `{"amount":-5}`, nil, 400, "amount", "must be positive"},
		{"huge", "charge", `{"token":"tok_visa","amount":99999999999999999999}`, nil, 400, "amount", "out of range"},
		{"boolean amount", "charge", `{"token":"tok_visa","amount":true}`, nil, 400, "amount", "must be a JSON number"},
		{"no amount", "payment-intents", `{}`, nil, 400, "amount", "is required"},
		{"no token", "charge", `{"amount":100}`, nil, 400, "token", "is required"},
		{"currency not a code", "charge", `{"token":"tok_visa","amount":100,"currency":"dollars"}`, nil, 400, "currency", "3-letter"},
		{"currency not allowed", "payment-intents", `{"amount":100,"currency":"gbp"}`, nil, 400, "currency", "gbp is not accepted here; accepted: usd, eur"},
		{"currency upper case allowed", "charge", `{"token":"tok_visa","amount":100,"currency":"EUR"}`, nil, 200, "", ""},
		{"51 metadata keys", "charge", `{"token":"tok_visa","amount":100,"metadata":` + fiftyOne + `}`, nil, 400, "metadata", "at most 50"},
		{"long metadata key", "payment-intents", `{"amount":100,"metadata":{"` + strings.Repeat("k", 41) + `":"v"}}`, nil, 400, "metadata", "over 40 characters"},
		{"long metadata value", "charge", `{"token":"tok_visa","amount":100,"metadata":{"k":"` + strings.Repeat("é", 501) + `"}}`, nil, 400, "metadata", "over 500 characters"},
		{"metadata value at the limit", "charge", `{"token":"tok_visa","amount":100,"metadata":{"` + strings.Repeat("k", 40) + `":"` + strings.Repeat("v", 500) + `"}}`, nil, 200, "", ""},
		{"bracket in metadata key", "charge", `{"token":"tok_visa","amount":100,"metadata":{"a[b]":"v"}}`, nil, 400, "metadata", "square brackets"},
		{"number as description", "payment-intents", `{"amount":100,"description":5}`, nil, 400, "description", "must be a JSON string"},
		{"number in metadata", "charge", `{"token":"tok_visa","amount":100,"metadata":{"n":1}}`, nil, 400, "metadata", "values must be JSON strings"},
		{"unknown field", "charge", `{"token":"tok_visa","amount":100,"customer":"cus_1"}`, nil, 400, "customer", "is not a known field"},
		{"token on payment intents", "payment-intents", `{"amount":100,"token":"tok_visa"}`, nil, 400, "token", "is not a known field"},
		{"long idempotency key", "charge", `{"token":"tok_visa","amount":100}`, map[string]string{"Idempotency-Key": strings.Repeat("i", 256)}, 400, "Idempotency-Key", "over 255"},
		{"guessable idempotency key", "charge", `{"token":"tok_visa","amount":100}`, map[string]string{"Idempotency-Key": "order-42"}, 400, "Idempotency-Key", "under 32 characters: it must be unguessable"},
		{"repetitive idempotency key", "payment-intents", `{"amount":100}`, map[string]string{"Idempotency-Key": "order-000000000000000000000000000001"}, 400, "Idempotency-Key", "does not look random"},
		{"idempotency key with spaces", "charge", `{"token":"tok_visa","amount":100}`, map[string]string{"Idempotency-Key": "0b6f2c1e 9d4a 4f7b 8e3c 5a2d9c7e1f40"}, 400, "Idempotency-Key", "only letters, digits"},
		{"uuid idempotency key", "charge", `{"token":"tok_visa","amount":100}`, map[string]string{"Idempotency-Key": "0b6f2c1e-9d4a-4f7b-8e3c-5a2d9c7e1f40"}, 200, "", ""},
		{"bell in description", "charge", `{"token":"tok_visa","amount":100,"description":"order 7\u0007"}`, nil, 400, "description", "control character"},
		{"newline in description", "payment-intents", `{"amount":100,"description":"order 7\nTotal: $0.00"}`, nil, 400, "description", "control character"},
		{"escape in metadata value", "charge", `{"token":"tok_visa","amount":100,"metadata":{"k":"\u001b[31mred"}}`, nil, 400, "metadata", "value of key \"k\" holds a control character"},
		{"C1 control in metadata key", "payment-intents", `{"amount":100,"metadata":{"k\u0085":"v"}}`, nil, 400, "metadata", "holds a control character"},
		{"unicode description", "charge", `{"token":"tok_visa","amount":100,"description":"Bestellung für Zoë – 7 €"}`, nil, 200, "", ""},
		{"empty body", "charge", ``, nil, 400, "", "body is empty"},
		{"not JSON", "charge", `{"amount":`, nil, 400, "", "not valid JSON"},
		{"two objects", "charge", `{"token":"tok_visa","amount":100} {}`, nil, 400, "", "data after the JSON object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := map[string]string{"X-API-Key": apiKey}
			for k, v := range tc.header {
				h[k] = v
			}
			r := a.do(t, http.MethodPost, "/Stripe/"+tc.route, tc.body, h)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.status == 200 {
				return
			}
			e := r.apiError(t)
			msg, _ := e["message"].(string)
			if e["type"] != "invalid_request" || (tc.field != "" && e["field"] != tc.field) || !strings.Contains(msg, tc.rule) {
				t.Fatalf("error = %v, want field %q and a message with %q", e, tc.field, tc.rule)
			}
			if tc.field != "" && !strings.HasPrefix(msg, tc.field+" ") {
				t.Errorf("message %q does not name the field %q", msg, tc.field)
			}
		})
	}
}
