package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/stripeline/stripeline/services/api/internal/payments"
)

type chargeBody struct {
	Token       string            `json:"token"`
	Amount      json.RawMessage   `json:"amount"`
	Currency    string            `json:"currency"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

type paymentIntentBody struct {
	Amount        json.RawMessage   `json:"amount"`
	Currency      string            `json:"currency"`
	Description   string            `json:"description"`
	Metadata      map[string]string `json:"metadata"`
	PaymentMethod string            `json:"payment_method"`
}

func (h *Handler) charge(w http.ResponseWriter, r *http.Request) {
	req, err := h.chargeRequest(w, r)
	var res payments.Result
	if err == nil {
		res, err = h.payments.Charge(r.Context(), req)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

func (h *Handler) chargeRequest(w http.ResponseWriter, r *http.Request) (req payments.ChargeRequest, err error) {
	var body chargeBody
	if err = decode(w, r, &body); err != nil {
		return req, err
	}
	if body.Token == "" {
		return req, fieldError{"token", "is required: the card token (tok_…) from Stripe.js or the Stripe SDK"}
	}
	if len(body.Token) > maxIDLen {
		return req, fieldError{"token", "is too long"}
	}
	req = payments.ChargeRequest{Token: body.Token, Description: body.Description, Metadata: body.Metadata}
	if req.Amount, err = amount(body.Amount); err != nil {
		return req, err
	}
	if req.Currency, err = h.currency(body.Currency); err != nil {
		return req, err
	}
	if err = metadata(body.Metadata); err != nil {
		return req, err
	}
	req.IdempotencyKey, err = idempotencyKey(r)
	return req, err
}

func (h *Handler) paymentIntent(w http.ResponseWriter, r *http.Request) {
	req, err := h.paymentIntentRequest(w, r)
	var res payments.Result
	if err == nil {
		res, err = h.payments.CreatePaymentIntent(r.Context(), req)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

func (h *Handler) paymentIntentRequest(w http.ResponseWriter, r *http.Request) (req payments.PaymentIntentRequest, err error) {
	var body paymentIntentBody
	if err = decode(w, r, &body); err != nil {
		return req, err
	}
	if len(body.PaymentMethod) > maxIDLen {
		return req, fieldError{"payment_method", "is too long"}
	}
	req = payments.PaymentIntentRequest{Description: body.Description, Metadata: body.Metadata, PaymentMethod: body.PaymentMethod}
	if req.Amount, err = amount(body.Amount); err != nil {
		return req, err
	}
	if req.Currency, err = h.currency(body.Currency); err != nil {
		return req, err
	}
	if err = metadata(body.Metadata); err != nil {
		return req, err
	}
	req.IdempotencyKey, err = idempotencyKey(r)
	return req, err
}

// respond answers with Stripe's object as Stripe sent it, plus the
// subscribe block.
func (h *Handler) respond(w http.ResponseWriter, res payments.Result) {
	out := map[string]json.RawMessage{}
	if len(res.Object) > 0 {
		if err := json.Unmarshal(res.Object, &out); err != nil {
			out = map[string]json.RawMessage{"id": mustJSON(res.ID)}
		}
	}
	out["subscribe"] = mustJSON(res.Subscribe)
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
