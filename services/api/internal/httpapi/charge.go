package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// paymentBody is what both payment routes take; each route's body embeds it
// beside its own fields. (encoding/json names an embedded field
// "paymentBody.metadata" in its errors; decode says "metadata".)
type paymentBody struct {
	Amount      json.RawMessage   `json:"amount"`
	Currency    string            `json:"currency"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
	Capture     *bool             `json:"capture"`
}

func (b *paymentBody) common() paymentBody { return *b }

type chargeBody struct {
	paymentBody
	Token string `json:"token"`
}

type paymentIntentBody struct {
	paymentBody
	PaymentMethod string `json:"payment_method"`
	Confirm       bool   `json:"confirm"`
	ReturnURL     string `json:"return_url"`
}

func (h *Handler) charge(w http.ResponseWriter, r *http.Request) {
	var body chargeBody
	h.pay(w, r, &body, func(p payments.Payment) (payments.Result, error) {
		if body.Token == "" {
			return payments.Result{}, fieldError{"token", "is required: the card token (tok_…) from Stripe.js or the Stripe SDK"}
		}
		if len(body.Token) > maxIDLen {
			return payments.Result{}, fieldError{"token", "is too long"}
		}
		return h.payments.Charge(r.Context(), payments.ChargeRequest{Payment: p, Token: body.Token})
	})
}

func (h *Handler) paymentIntent(w http.ResponseWriter, r *http.Request) {
	var body paymentIntentBody
	h.pay(w, r, &body, func(p payments.Payment) (payments.Result, error) {
		if len(body.PaymentMethod) > maxIDLen {
			return payments.Result{}, fieldError{"payment_method", "is too long"}
		}
		if body.Confirm && body.PaymentMethod == "" {
			return payments.Result{}, fieldError{"payment_method", "is required with confirm: the PaymentMethod (pm_…) to confirm with"}
		}
		if err := returnURL(body.ReturnURL); err != nil {
			return payments.Result{}, err
		}
		return h.payments.CreatePaymentIntent(r.Context(), payments.PaymentIntentRequest{
			Payment: p, PaymentMethod: body.PaymentMethod, Confirm: body.Confirm, ReturnURL: body.ReturnURL,
		})
	})
}

// paymentRequest is a route's body: the common fields plus its own.
type paymentRequest interface{ common() paymentBody }

// pay decodes body, checks the fields every payment has, and answers with
// what create makes of them (create checks the route's own fields).
func (h *Handler) pay(w http.ResponseWriter, r *http.Request, body paymentRequest, create func(payments.Payment) (payments.Result, error)) {
	p, err := h.payment(w, r, body)
	var res payments.Result
	if err == nil {
		res, err = create(p)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

func (h *Handler) payment(w http.ResponseWriter, r *http.Request, body paymentRequest) (p payments.Payment, err error) {
	if err = decode(w, r, body); err != nil {
		return p, err
	}
	b := body.common()
	// capture false authorizes only: an admin route captures or cancels it.
	p = payments.Payment{Description: b.Description, Metadata: b.Metadata, Manual: b.Capture != nil && !*b.Capture}
	if p.Amount, err = amount(b.Amount); err != nil {
		return p, err
	}
	if p.Currency, err = h.currency(b.Currency); err != nil {
		return p, err
	}
	if err = description(b.Description); err != nil {
		return p, err
	}
	if err = metadata(b.Metadata); err != nil {
		return p, err
	}
	p.IdempotencyKey, err = h.idempotencyKey(r)
	return p, err
}

// respond answers with Stripe's object as Stripe sent it, plus the
// subscribe block of a client's payment.
func (h *Handler) respond(w http.ResponseWriter, res payments.Result) {
	out := map[string]json.RawMessage{}
	if len(res.Object) > 0 {
		if err := json.Unmarshal(res.Object, &out); err != nil {
			out = map[string]json.RawMessage{"id": mustJSON(res.ID)}
		}
	}
	if res.Subscribe != nil {
		out["subscribe"] = mustJSON(res.Subscribe)
	}
	writeJSON(w, http.StatusOK, out)
}

func mustJSON(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
