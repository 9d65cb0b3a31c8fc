package devproxy_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripeline/stripeline/tools/devproxy"
	"github.com/stripeline/stripeline/tools/devstack"
)

const whsec = "whsec_devproxy_test_0123456789"

// receiver is webhook-ingest's stand-in: it checks each event's signature
// as stripe-go does and keeps the events in arrival order.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	refuse int // answer the next refuse posts with 503
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.ValidatePayload(body, r.Header.Get("Stripe-Signature"), whsec); err != nil {
			t.Errorf("event with a bad signature: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.refuse > 0 {
			rc.refuse--
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("event is not JSON: %v", err)
		}
		rc.events = append(rc.events, ev)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// wait returns the events once n have arrived.
func (rc *receiver) wait(t *testing.T, n int) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rc.mu.Lock()
		got := append([]map[string]any(nil), rc.events...)
		rc.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d events arrived, want %d", len(got), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var (
	mockOnce sync.Once
	mockURL  string
	mockErr  error
)

// stripeMock is one stripe-mock for the package's tests.
func stripeMock(t *testing.T) string {
	t.Helper()
	mockOnce.Do(func() {
		addr, err := devstack.FreeAddr()
		if err != nil {
			mockErr = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, mockErr = devstack.StartStripeMock(ctx, addr, io.Discard) // ends with the test binary
		mockURL = "http://" + addr
	})
	if mockErr != nil {
		t.Fatal(mockErr)
	}
	return mockURL
}

func start(t *testing.T) (*httptest.Server, *receiver) {
	t.Helper()
	rc := newReceiver(t)
	p, err := devproxy.New(devproxy.Config{Upstream: stripeMock(t), WebhookURL: rc.URL + "/webhooks/stripe", WebhookSecret: whsec})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(func() { srv.Close(); p.Close() })
	return srv, rc
}

func post(t *testing.T, base, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Authorization", "Bearer sk_test_devproxy0123456789")
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Idempotency-Key", "test-key-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s: answer is not JSON: %v", path, err)
	}
	return resp.StatusCode, out
}

func object(ev map[string]any) map[string]any {
	return ev["data"].(map[string]any)["object"].(map[string]any)
}

func TestChargeSucceedsAndSendsChargeSucceeded(t *testing.T) {
	srv, rc := start(t)
	status, ch := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"2000"}, "currency": {"usd"}, "source": {"tok_visa"}})
	if status != http.StatusOK || ch["status"] != "succeeded" || ch["amount"] != 2000.0 {
		t.Fatalf("answer %d %v", status, ch)
	}
	ev := rc.wait(t, 1)[0]
	if ev["type"] != "charge.succeeded" || object(ev)["id"] != ch["id"] || object(ev)["amount"] != 2000.0 || ev["livemode"] != false {
		t.Fatalf("event %v, want charge.succeeded of %v", ev, ch["id"])
	}
	if req := ev["request"].(map[string]any); req["idempotency_key"] != "test-key-1" {
		t.Errorf("event request %v, want the call's idempotency key", req)
	}
}

func TestDeclineTokensAreDeclinedAsStripeDoes(t *testing.T) {
	srv, rc := start(t)
	want := map[string][2]string{
		"tok_chargeDeclined":                  {"card_declined", "generic_decline"},
		"tok_chargeDeclinedInsufficientFunds": {"card_declined", "insufficient_funds"},
		"tok_chargeDeclinedExpiredCard":       {"expired_card", "expired_card"},
		"tok_chargeDeclinedIncorrectCvc":      {"incorrect_cvc", "incorrect_cvc"},
		"tok_chargeDeclinedProcessingError":   {"processing_error", "processing_error"},
		"tok_chargeDeclinedFraudulent":        {"card_declined", "fraudulent"},
	}
	if len(devproxy.DeclineTokens()) < len(want) {
		t.Fatalf("DeclineTokens() = %v", devproxy.DeclineTokens())
	}
	charges := map[string]string{} // charge id → token
	for _, tok := range devproxy.DeclineTokens() {
		status, body := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"500"}, "currency": {"usd"}, "source": {tok}})
		e, _ := body["error"].(map[string]any)
		if status != http.StatusPaymentRequired || e["type"] != "card_error" || e["message"] == "" {
			t.Fatalf("%s: answer %d %v, want a 402 card_error", tok, status, body)
		}
		if w, ok := want[tok]; ok && (e["code"] != w[0] || e["decline_code"] != w[1]) {
			t.Errorf("%s: code %v decline_code %v, want %v", tok, e["code"], e["decline_code"], w)
		}
		id, _ := e["charge"].(string)
		if !strings.HasPrefix(id, "ch_") {
			t.Fatalf("%s: error names charge %v", tok, e["charge"])
		}
		charges[id] = tok
	}
	for _, ev := range rc.wait(t, len(charges)) {
		o := object(ev)
		if ev["type"] != "charge.failed" || o["status"] != "failed" || charges[o["id"].(string)] == "" || o["failure_code"] == nil {
			t.Errorf("event %s of %v (status %v, failure_code %v), want charge.failed of a declined charge", ev["type"], o["id"], o["status"], o["failure_code"])
		}
	}
}

func TestPaymentIntentsAreConfirmedWithTheirEvents(t *testing.T) {
	srv, rc := start(t)
	// Created without confirming: it waits for a payment method, as at Stripe.
	status, open := post(t, srv.URL, "/v1/payment_intents", url.Values{"amount": {"1500"}, "currency": {"usd"}})
	if status != http.StatusOK || open["status"] != "requires_payment_method" || !strings.HasPrefix(open["client_secret"].(string), open["id"].(string)+"_secret_") {
		t.Fatalf("answer %d %v", status, open)
	}
	// Confirmed at creation with a test card: it succeeds, with a charge.
	status, pi := post(t, srv.URL, "/v1/payment_intents", url.Values{"amount": {"1500"}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}})
	if status != http.StatusOK || pi["status"] != "succeeded" || pi["latest_charge"] == nil {
		t.Fatalf("answer %d %v", status, pi)
	}
	// Confirmed later with a declined card: 402, and it waits for another method.
	_, later := post(t, srv.URL, "/v1/payment_intents", url.Values{"amount": {"700"}, "currency": {"usd"}})
	status, declined := post(t, srv.URL, "/v1/payment_intents/"+later["id"].(string)+"/confirm", url.Values{"payment_method": {"pm_card_chargeDeclinedInsufficientFunds"}})
	e, _ := declined["error"].(map[string]any)
	if status != http.StatusPaymentRequired || e["decline_code"] != "insufficient_funds" || e["payment_intent"].(map[string]any)["status"] != "requires_payment_method" {
		t.Fatalf("declined confirm: %d %v", status, declined)
	}

	type seen struct{ typ, id string }
	var got []seen
	for _, ev := range rc.wait(t, 7) {
		got = append(got, seen{ev["type"].(string), object(ev)["id"].(string)})
		if ev["type"] == "charge.succeeded" && object(ev)["payment_intent"] != pi["id"] {
			t.Errorf("charge.succeeded names payment_intent %v, want %v", object(ev)["payment_intent"], pi["id"])
		}
		if ev["type"] == "payment_intent.succeeded" && object(ev)["amount_received"] != 1500.0 {
			t.Errorf("payment_intent.succeeded amount_received %v", object(ev)["amount_received"])
		}
	}
	want := []seen{
		{"payment_intent.created", open["id"].(string)},
		{"payment_intent.created", pi["id"].(string)},
		{"charge.succeeded", pi["latest_charge"].(string)},
		{"payment_intent.succeeded", pi["id"].(string)},
		{"payment_intent.created", later["id"].(string)},
		{"charge.failed", e["charge"].(string)},
		{"payment_intent.payment_failed", later["id"].(string)},
	}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestTriggerSendsOneEventInTheObjectsNewState(t *testing.T) {
	srv, rc := start(t)
	_, ch := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"2000"}, "currency": {"usd"}, "source": {"tok_visa"}})
	rc.wait(t, 1)
	trigger := func(body string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/_stripeline/trigger", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	status, ev := trigger(`{"type":"charge.refunded","id":"` + ch["id"].(string) + `"}`)
	if status != http.StatusOK || ev["type"] != "charge.refunded" {
		t.Fatalf("trigger: %d %v", status, ev)
	}
	sent := rc.wait(t, 2)[1]
	if o := object(sent); sent["id"] != ev["id"] || o["id"] != ch["id"] || o["refunded"] != true || o["amount"] != 2000.0 {
		t.Fatalf("sent %v", sent)
	}
	// An id the proxy has not seen: stripe-mock's fixture, with that id.
	if status, ev := trigger(`{"type":"payment_intent.succeeded","id":"pi_byhand"}`); status != http.StatusOK || object(ev)["id"] != "pi_byhand" || object(ev)["status"] != "succeeded" {
		t.Fatalf("trigger of an unseen id: %d %v", status, ev)
	}
	if status, _ := trigger(`{"type":"charge.refunded","id":"pi_byhand"}`); status != http.StatusBadRequest {
		t.Errorf("charge event about a PaymentIntent: %d, want 400", status)
	}
	if status, _ := trigger(`{"type":"charge.refunded"}`); status != http.StatusBadRequest {
		t.Errorf("trigger without an id: %d, want 400", status)
	}
}

func TestRefusedWebhooksAreRetried(t *testing.T) {
	srv, rc := start(t)
	rc.mu.Lock()
	rc.refuse = 2
	rc.mu.Unlock()
	_, ch := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"100"}, "currency": {"usd"}, "source": {"tok_visa"}})
	if ev := rc.wait(t, 1)[0]; object(ev)["id"] != ch["id"] {
		t.Fatalf("event %v", ev)
	}
}

func TestStripeMockRefusalsPassThroughWithoutEvents(t *testing.T) {
	srv, rc := start(t)
	status, body := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"lots"}, "currency": {"usd"}, "source": {"tok_visa"}})
	if status != http.StatusBadRequest || body["error"] == nil {
		t.Fatalf("answer %d %v, want stripe-mock's 400", status, body)
	}
	// A charge after it is the first event: the refused one sent none.
	_, ch := post(t, srv.URL, "/v1/charges", url.Values{"amount": {"100"}, "currency": {"usd"}, "source": {"tok_visa"}})
	if ev := rc.wait(t, 1)[0]; object(ev)["id"] != ch["id"] {
		t.Fatalf("first event is about %v, want %v", object(ev)["id"], ch["id"])
	}
}

func TestOnlyOnThisMachine(t *testing.T) {
	for _, cfg := range []devproxy.Config{
		{Upstream: "https://api.stripe.com", WebhookURL: "http://127.0.0.1:8081/webhooks/stripe", WebhookSecret: whsec},
		{Upstream: "http://127.0.0.1:12111", WebhookURL: "https://shop.example/webhooks/stripe", WebhookSecret: whsec},
		{Upstream: "http://127.0.0.1:12111", WebhookURL: "http://127.0.0.1:8081/webhooks/stripe"},
	} {
		if _, err := devproxy.New(cfg); err == nil {
			t.Errorf("New(%+v) accepted it", cfg)
		}
	}
	if _, err := devproxy.New(devproxy.Config{Upstream: "http://localhost:12111", WebhookURL: "http://[::1]:8081/webhooks/stripe", WebhookSecret: whsec}); err != nil {
		t.Errorf("loopback refused: %v", err)
	}
}
