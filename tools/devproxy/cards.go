package devproxy

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// decline is how Stripe refuses one of its test cards
// (https://docs.stripe.com/testing#declined-payments).
type decline struct {
	code, declineCode, message string
	networkStatus, outcome     string // outcome.network_status, outcome.type
}

// declines are Stripe's decline test cards, by the name shared by their token
// (tok_…) and payment method (pm_card_…).
var declines = map[string]decline{
	"chargeDeclined":                      {"card_declined", "generic_decline", "Your card was declined.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedInsufficientFunds":     {"card_declined", "insufficient_funds", "Your card has insufficient funds.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedLostCard":              {"card_declined", "lost_card", "Your card was declined.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedStolenCard":            {"card_declined", "stolen_card", "Your card was declined.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedFraudulent":            {"card_declined", "fraudulent", "Your card was declined.", "not_sent_to_network", "blocked"},
	"chargeDeclinedExpiredCard":           {"expired_card", "expired_card", "Your card has expired.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedIncorrectCvc":          {"incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedProcessingError":       {"processing_error", "processing_error", "An error occurred while processing your card. Try again in a little bit.", "declined_by_network", "issuer_declined"},
	"chargeDeclinedVelocityLimitExceeded": {"card_declined", "card_velocity_exceeded", "Your card was declined.", "declined_by_network", "issuer_declined"},
}

// declineOf is the decline of a test token or payment method, if it is one.
func declineOf(source string) (decline, bool) {
	name, ok := strings.CutPrefix(source, "tok_")
	if !ok {
		name, ok = strings.CutPrefix(source, "pm_card_")
	}
	if !ok {
		return decline{}, false
	}
	d, ok := declines[name]
	return d, ok
}

// DeclineTokens lists the decline test tokens the proxy answers, for docs and tests.
func DeclineTokens() []string {
	out := make([]string, 0, len(declines))
	for name := range declines {
		out = append(out, "tok_"+name)
	}
	return out
}

// failCharge turns a charge into Stripe's failed charge for d.
func failCharge(ch map[string]any, d decline) {
	ch["status"] = "failed"
	ch["paid"] = false
	ch["captured"] = false
	ch["failure_code"] = d.code
	ch["failure_message"] = d.message
	ch["outcome"] = map[string]any{
		"network_status": d.networkStatus, "reason": d.declineCode, "risk_level": "normal",
		"seller_message": "The bank did not return any further details with this decline.", "type": d.outcome,
	}
}

func succeedCharge(ch map[string]any) {
	ch["status"] = "succeeded"
	ch["paid"] = true
	ch["captured"] = true
	ch["failure_code"] = nil
	ch["failure_message"] = nil
	ch["outcome"] = map[string]any{
		"network_status": "approved_by_network", "reason": nil, "risk_level": "normal",
		"seller_message": "Payment complete.", "type": "authorized",
	}
}

// declineError is Stripe's 402 body for d.
func declineError(d decline, chargeID string, extra map[string]any) map[string]any {
	e := map[string]any{
		"type": "card_error", "code": d.code, "decline_code": d.declineCode, "message": d.message,
		"charge":  chargeID,
		"doc_url": "https://stripe.com/docs/error-codes/" + strings.ReplaceAll(d.code, "_", "-"),
	}
	for k, v := range extra {
		e[k] = v
	}
	return map[string]any{"error": e}
}

// charge serves POST /v1/charges: stripe-mock checks the request and makes
// the charge; a decline token turns it into Stripe's decline.
func (p *Proxy) charge(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	form, _ := url.ParseQuery(string(body))
	call, err := p.forward(r.Context(), r, http.MethodPost, "/v1/charges", body)
	if err != nil {
		upstreamFailed(w, err)
		return
	}
	var ch map[string]any
	if call.status != http.StatusOK || json.Unmarshal(call.body, &ch) != nil {
		relay(w, call) // stripe-mock refused the request: as Stripe would
		return
	}
	ch["created"] = time.Now().Unix()
	id, _ := ch["id"].(string)
	req := requestOf(r)
	if d, ok := declineOf(form.Get("source")); ok {
		failCharge(ch, d)
		p.remember(ch)
		writeJSON(w, http.StatusPaymentRequired, declineError(d, id, nil))
		p.send(req, event("charge.failed", ch))
		return
	}
	succeedCharge(ch)
	p.remember(ch)
	writeJSON(w, http.StatusOK, ch)
	p.send(req, event("charge.succeeded", ch))
}

// paymentIntent serves POST /v1/payment_intents (id empty) and POST
// /v1/payment_intents/{id}/confirm. Without confirm a new PaymentIntent
// is answered as stripe-mock made it; confirmed, it succeeds with a charge,
// or fails as its payment method's test card says.
func (p *Proxy) paymentIntent(w http.ResponseWriter, r *http.Request, confirmID string) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	form, _ := url.ParseQuery(string(body))
	path := "/v1/payment_intents"
	if confirmID != "" {
		path += "/" + confirmID + "/confirm"
	}
	call, err := p.forward(r.Context(), r, http.MethodPost, path, body)
	if err != nil {
		upstreamFailed(w, err)
		return
	}
	var pi map[string]any
	if call.status != http.StatusOK || json.Unmarshal(call.body, &pi) != nil {
		relay(w, call)
		return
	}
	req := requestOf(r)
	var events []map[string]any
	if confirmID == "" {
		// stripe-mock's client_secret is its fixture's, not the id's; each
		// PaymentIntent gets an id and a secret of its own here.
		id := "pi_" + randomID(24)
		pi["id"] = id
		pi["client_secret"] = id + "_secret_" + randomID(24)
		pi["created"] = time.Now().Unix()
		if pm := form.Get("payment_method"); pm != "" {
			pi["payment_method"] = pm
			pi["status"] = "requires_confirmation"
		} else {
			pi["status"] = "requires_payment_method"
		}
		events = append(events, event("payment_intent.created", pi))
	} else if prior := p.remembered(confirmID); prior != nil {
		// Confirming one made here: its amount, currency and metadata stay.
		for _, k := range []string{"amount", "currency", "metadata", "description", "client_secret", "created", "payment_method"} {
			if v, ok := prior[k]; ok {
				pi[k] = v
			}
		}
		if pm := form.Get("payment_method"); pm != "" {
			pi["payment_method"] = pm
		}
	}
	confirm := confirmID != "" || form.Get("confirm") == "true"
	pm, _ := pi["payment_method"].(string)
	if !confirm || pm == "" {
		p.remember(pi)
		writeJSON(w, http.StatusOK, pi)
		p.send(req, events...)
		return
	}
	id, _ := pi["id"].(string)
	ch, err := p.fixture(r.Context(), r, "ch_"+randomID(24))
	if err != nil {
		upstreamFailed(w, err)
		return
	}
	for _, k := range []string{"amount", "currency", "metadata", "description"} {
		ch[k] = pi[k]
	}
	ch["payment_intent"] = id
	ch["payment_method"] = pm
	ch["created"] = time.Now().Unix()
	chID, _ := ch["id"].(string)
	pi["latest_charge"] = chID
	if d, ok := declineOf(pm); ok {
		failCharge(ch, d)
		pi["status"] = "requires_payment_method"
		pi["last_payment_error"] = declineError(d, chID, map[string]any{"payment_method": map[string]any{"id": pm, "object": "payment_method"}})["error"]
		p.remember(ch)
		p.remember(pi)
		writeJSON(w, http.StatusPaymentRequired, declineError(d, chID, map[string]any{"payment_intent": pi}))
		p.send(req, append(events, event("charge.failed", ch), event("payment_intent.payment_failed", pi))...)
		return
	}
	succeedCharge(ch)
	ch["amount_captured"] = ch["amount"]
	pi["status"] = "succeeded"
	pi["amount_received"] = pi["amount"]
	p.remember(ch)
	p.remember(pi)
	writeJSON(w, http.StatusOK, pi)
	p.send(req, append(events, event("charge.succeeded", ch), event("payment_intent.succeeded", pi))...)
}
