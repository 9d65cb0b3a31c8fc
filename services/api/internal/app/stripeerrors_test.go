package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/api/internal/config"
)

// stripeStub speaks Stripe's HTTP API for what stripe-mock cannot do:
// declines, rate limits, outages. Each request picks its answer by the
// charge's description, so one stub serves a whole table.
type stripeStub struct {
	*httptest.Server
	mu          sync.Mutex
	idempotency map[string][]string // description → Idempotency-Key headers seen
	seen        []url.Values        // every request's form, in order
	// replays are the successful answers by Idempotency-Key: like Stripe,
	// the stub answers a repeated key with the first answer again.
	replays map[string]string
	made    int // successful objects made, for their ids
}

// stubAnswer is one canned answer of the stub.
type stubAnswer struct {
	status int
	header map[string]string
	body   string
	delay  time.Duration
}

// stripeFailures are the error answers of Stripe and what the api must make
// of them. The secret key shows up in some, as a careless upstream might
// put it there; none of it may reach the client or the log.
var stripeFailures = []struct {
	name                   string
	answer                 stubAnswer
	status                 int
	errType, code, decline string
	field, message, charge string
	retryAfter             string
}{
	{
		name:   "decline",
		answer: stubAnswer{status: 402, body: `{"error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","message":"Your card has insufficient funds.","charge":"ch_declined_1"}}`},
		status: 402, errType: "card_error", code: "card_declined", decline: "insufficient_funds", message: "Your card has insufficient funds.", charge: "ch_declined_1",
	},
	{
		name:   "expired card",
		answer: stubAnswer{status: 402, body: `{"error":{"type":"card_error","code":"expired_card","param":"exp_month","message":"Your card has expired."}}`},
		status: 402, errType: "card_error", code: "expired_card", field: "exp_month", message: "Your card has expired.",
	},
	{
		name:   "invalid request",
		answer: stubAnswer{status: 400, body: `{"error":{"type":"invalid_request_error","code":"amount_too_large","param":"amount","message":"Amount must be no more than $999,999.99"}}`},
		status: 400, errType: "invalid_request", code: "amount_too_large", field: "amount", message: "Amount must be no more than $999,999.99",
	},
	{
		name:   "no such token",
		answer: stubAnswer{status: 404, body: `{"error":{"type":"invalid_request_error","code":"resource_missing","param":"source","message":"No such token: 'tok_nope'"}}`},
		status: 400, errType: "invalid_request", code: "resource_missing", field: "token", message: "No such token: 'tok_nope'",
	},
	{
		name:   "idempotency mismatch",
		answer: stubAnswer{status: 400, body: `{"error":{"type":"idempotency_error","message":"Keys for idempotent requests can only be used with the same parameters they were first used with."}}`},
		status: 409, errType: "idempotency_error", message: "Keys for idempotent requests can only be used with the same parameters they were first used with.",
	},
	{
		name:   "idempotency key in use",
		answer: stubAnswer{status: 409, header: map[string]string{"Stripe-Should-Retry": "false"}, body: `{"error":{"type":"invalid_request_error","code":"idempotency_key_in_use","message":"There is currently another in-progress request using this Idempotent Key."}}`},
		status: 409, errType: "idempotency_error", code: "idempotency_key_in_use", message: "There is currently another in-progress request using this Idempotent Key.",
	},
	{
		name:   "rate limit",
		answer: stubAnswer{status: 429, header: map[string]string{"Retry-After": "7"}, body: `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests hit the API too quickly."}}`},
		status: 429, errType: "rate_limited", code: "rate_limit", message: "Too many requests hit the API too quickly.", retryAfter: "7",
	},
	{
		name:   "rate limit without retry-after",
		answer: stubAnswer{status: 429, body: `{"error":{"type":"invalid_request_error","code":"rate_limit","message":"Too many requests hit the API too quickly."}}`},
		status: 429, errType: "rate_limited", code: "rate_limit", retryAfter: "1",
	},
	{
		name:   "bad secret key",
		answer: stubAnswer{status: 401, body: `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: ` + secretKey + `"}}`},
		status: 502, errType: "stripe_misconfigured", code: "stripe_credentials_refused",
	},
	{
		name:   "bad secret key, masked",
		answer: stubAnswer{status: 401, body: `{"error":{"type":"invalid_request_error","message":"Invalid API Key provided: sk_test_***************************` + secretTail + `"}}`},
		status: 502, errType: "stripe_misconfigured", code: "stripe_credentials_refused",
	},
	{
		name:   "restricted key lacks permission",
		answer: stubAnswer{status: 403, body: `{"error":{"type":"invalid_request_error","message":"The provided key 'rk_test_***` + secretTail + `' does not have the required permissions"}}`},
		status: 502, errType: "stripe_misconfigured", code: "stripe_credentials_refused",
	},
	{
		name:   "stripe api error",
		answer: stubAnswer{status: 500, body: `{"error":{"type":"api_error","message":"Sorry, something went wrong."}}`},
		status: 502, errType: "stripe_unavailable", code: "stripe_error",
	},
	{
		name:   "proxy page instead of JSON",
		answer: stubAnswer{status: 503, body: `<html>503 upstream down; request had Authorization: Bearer ` + secretKey + `</html>`},
		status: 502, errType: "stripe_unavailable", code: "stripe_unreachable",
	},
	{
		name:   "stripe echoes the key in a message",
		answer: stubAnswer{status: 400, body: `{"error":{"type":"invalid_request_error","param":"description","message":"Invalid string: ` + secretKey + `"}}`},
		status: 400, errType: "invalid_request", field: "description", message: "Invalid string: [redacted]",
	},
	{
		name:   "stripe too slow",
		answer: stubAnswer{status: 200, body: `{}`, delay: 3 * time.Second},
		status: 504, errType: "stripe_unavailable", code: "stripe_timeout",
	},
}

func startStripeStub(t *testing.T) *stripeStub {
	t.Helper()
	answers := map[string]stubAnswer{}
	for _, f := range stripeFailures {
		answers[f.name] = f.answer
	}
	for _, f := range refundFailures {
		answers[f.name] = f.answer
	}
	s := &stripeStub{idempotency: map[string][]string{}, replays: map[string]string{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		desc := r.FormValue("description")
		if desc == "" { // the admin routes' requests have no description
			desc = r.FormValue("metadata[case]")
		}
		s.mu.Lock()
		s.idempotency[desc] = append(s.idempotency[desc], r.Header.Get("Idempotency-Key"))
		s.seen = append(s.seen, r.Form)
		a, ok := answers[desc]
		if !ok { // a success, shaped as Stripe's, each object its own id
			key := r.Header.Get("Idempotency-Key")
			body, replayed := s.replays[key]
			if !replayed || key == "" {
				s.made++
				body = strings.ReplaceAll(stubObject(r), "_stub_1", fmt.Sprintf("_stub_%d", s.made))
				if key != "" {
					s.replays[key] = body
				}
			}
			a = stubAnswer{status: 200, body: body}
		}
		s.mu.Unlock()
		select {
		case <-time.After(a.delay):
		case <-r.Context().Done():
			return
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Request-Id", "req_stub")
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(s.Close)
	return s
}

// stubObject is the stub's successful answer to r: the object Stripe
// would answer, in short.
func stubObject(r *http.Request) string {
	switch p := r.URL.Path; {
	case strings.HasSuffix(p, "/confirm") || (p == "/v1/payment_intents" && r.FormValue("confirm") == "true"):
		// The card asks for 3-D Secure.
		return `{"id":"pi_stub_1","object":"payment_intent","amount":100,"client_secret":"pi_stub_1_secret_x","status":"requires_action",` +
			`"next_action":{"type":"use_stripe_sdk","use_stripe_sdk":{"type":"three_d_secure_redirect","stripe_js":"https://hooks.stripe.com/3d_secure_2/hosted"}}}`
	case strings.HasPrefix(p, "/v1/payment_intents"):
		return `{"id":"pi_stub_1","object":"payment_intent","amount":100,"client_secret":"pi_stub_1_secret_x","status":"requires_payment_method"}`
	case p == "/v1/refunds":
		return `{"id":"re_stub_1","object":"refund","amount":100,"charge":"ch_stub_1","status":"succeeded"}`
	case r.Method == http.MethodGet && strings.HasPrefix(p, "/v1/charges/"):
		// A charge made with capture false is not captured until it is.
		id := strings.TrimPrefix(p, "/v1/charges/")
		return `{"id":"` + id + `","object":"charge","amount":100,"currency":"usd","status":"succeeded","captured":` + fmt.Sprint(!strings.Contains(id, "uncaptured")) + `}`
	}
	return `{"id":"ch_stub_1","object":"charge","amount":100,"currency":"usd","status":"succeeded","captured":true}`
}

func (s *stripeStub) forms() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.seen...)
}

func (s *stripeStub) keys(desc string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.idempotency[desc]...)
}

// stubConfig points the api at the stub, with a short Stripe deadline so
// the slow case (3 s) times out quickly. The deadline covers the call with
// its retry, so it leaves room for stripe-go's one retry of a 5xx after
// its backoff (at most 500 ms).
func stubConfig(t *testing.T, stub *stripeStub) config.Config {
	t.Helper()
	c := testConfig(t, stub.URL)
	c.StripeTimeout = 1500 * time.Millisecond
	return c
}

func TestStripeErrorsMapToClearAnswers(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	for _, f := range stripeFailures {
		t.Run(f.name, func(t *testing.T) {
			for _, route := range []string{"charge", "payment-intents"} {
				body := `{"amount":100,"description":` + mustQuote(f.name) + `}`
				if route == "charge" {
					body = `{"token":"tok_visa","amount":100,"description":` + mustQuote(f.name) + `}`
				}
				r := a.do(t, http.MethodPost, "/Stripe/"+route, body, withKey)
				if r.Status != f.status {
					t.Fatalf("%s: status %d, want %d: %s", route, r.Status, f.status, r.Body)
				}
				e := r.apiError(t)
				want := map[string]string{"type": f.errType, "code": f.code, "decline_code": f.decline, "field": f.field, "charge": f.charge}
				if f.message != "" {
					want["message"] = f.message
				}
				for k, v := range want {
					if got, _ := e[k].(string); got != v {
						t.Errorf("%s: error.%s = %q, want %q (%s)", route, k, got, v, r.Body)
					}
				}
				if got := r.Header.Get("Retry-After"); got != f.retryAfter {
					t.Errorf("%s: Retry-After = %q, want %q", route, got, f.retryAfter)
				}
			}
		})
	}
}

func TestStripeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	a := startAPI(t, testConfig(t, "http://"+addr))
	r := a.do(t, http.MethodPost, "/Stripe/charge", `{"token":"tok_visa","amount":100}`, withKey)
	if e := r.apiError(t); r.Status != http.StatusBadGateway || e["code"] != "stripe_unreachable" {
		t.Fatalf("status %d, error %v; want 502 stripe_unreachable", r.Status, e)
	}
}

// A client's Idempotency-Key reaches Stripe scoped: the same for an honest
// retry, so Stripe replays the payment, and another for another app's API
// key or another route, so nobody else's payment is replayed to it.
// Without a client key each request gets a fresh one of the server's.
func TestIdempotencyKeyReachesStripe(t *testing.T) {
	stub := startStripeStub(t)
	a := startAPI(t, stubConfig(t, stub))
	pay := func(route, key, desc string, header map[string]string) map[string]any {
		t.Helper()
		h := map[string]string{"X-API-Key": apiKey}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		for k, v := range header {
			h[k] = v
		}
		body := `{"amount":100,"description":"` + desc + `"}`
		if route == "charge" {
			body = `{"token":"tok_visa","amount":100,"description":"` + desc + `"}`
		}
		r := a.do(t, http.MethodPost, "/Stripe/"+route, body, h)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		return r.json(t)
	}
	const key = "0b6f2c1e-9d4a-4f7b-8e3c-5a2d9c7e1f40"
	first := pay("payment-intents", key, "client-key", nil)
	retry := pay("payment-intents", key, "client-key", nil)
	if first["id"] != retry["id"] || first["client_secret"] != retry["client_secret"] {
		t.Fatalf("an honest retry got another PaymentIntent: %v then %v", first["id"], retry["id"])
	}
	// The same app's key in the Backendless path is the same scope.
	r := a.do(t, http.MethodPost, "/app/"+apiKey+"/services/Stripe/payment-intents", `{"amount":100,"description":"client-key"}`, map[string]string{"Idempotency-Key": key})
	if viaPath := r.json(t); viaPath["id"] != first["id"] {
		t.Fatalf("a retry through the Backendless path got another PaymentIntent: %s", r.Body)
	}
	other := pay("payment-intents", key, "client-key", map[string]string{"X-API-Key": apiKey2})
	if other["id"] == first["id"] || other["client_secret"] == first["client_secret"] {
		t.Fatalf("another app's API key with the same Idempotency-Key got the first payer's PaymentIntent: %v", other)
	}
	sub := other["subscribe"].(map[string]any)
	if err := subtoken.Verify([]byte(tokenSecret), sub["token"].(string), first["id"].(string), time.Now()); err == nil {
		t.Fatalf("another app's API key got a token for the first payer's id")
	}
	charge := pay("charge", key, "client-key", nil)
	if charge["id"] == first["id"] {
		t.Fatalf("the same key on another route was replayed: %v", charge)
	}
	got := stub.keys("client-key")
	if len(got) != 5 || got[0] != got[1] || got[0] != got[2] || got[0] == got[3] || got[0] == got[4] || strings.Contains(got[0], key) || !strings.HasPrefix(got[0], "stripeline-c-") {
		t.Fatalf("Idempotency-Keys at Stripe = %q; want the first two equal, scoped (not the client's), the others different", got)
	}

	pay("charge", "", "server-key", nil)
	pay("charge", "", "server-key", nil)
	got = stub.keys("server-key")
	if len(got) != 2 || !strings.HasPrefix(got[0], "stripeline-") || !strings.HasPrefix(got[1], "stripeline-") || got[0] == got[1] {
		t.Fatalf("Idempotency-Keys at Stripe without a client key = %q, want two distinct server-made keys", got)
	}
}

func mustQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
