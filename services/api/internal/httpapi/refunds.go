package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// The admin routes: money back, and the end of an authorization. Their
// answers are Stripe's objects as Stripe sent them, with no subscribe
// block: a shop's server reads the events with its own means.

type refundBody struct {
	Charge        string            `json:"charge"`
	PaymentIntent string            `json:"payment_intent"`
	Amount        json.RawMessage   `json:"amount"`
	Reason        string            `json:"reason"`
	Metadata      map[string]string `json:"metadata"`
}

type captureBody struct {
	Amount json.RawMessage `json:"amount"`
}

type cancelPaymentIntentBody struct {
	Reason string `json:"reason"`
}

// Stripe's values of a refund's reason and a PaymentIntent's
// cancellation_reason that a caller may set.
var (
	refundReasons = []string{"duplicate", "fraudulent", "requested_by_customer"}
	cancelReasons = []string{"abandoned", "duplicate", "fraudulent", "requested_by_customer"}
)

func (h *Handler) refund(w http.ResponseWriter, r *http.Request) {
	var b refundBody
	h.settle(w, r, &b, func(key string) (payments.Result, error) {
		req := payments.RefundRequest{Charge: b.Charge, PaymentIntent: b.PaymentIntent, Reason: b.Reason, Metadata: b.Metadata, IdempotencyKey: key}
		switch {
		case (b.Charge == "") == (b.PaymentIntent == ""):
			return payments.Result{}, fieldError{"charge", "or payment_intent is required, not both: the id (ch_… or pi_…) to refund"}
		case b.Charge != "":
			if err := objectID("charge", b.Charge); err != nil {
				return payments.Result{}, err
			}
		default:
			if err := objectID("payment_intent", b.PaymentIntent); err != nil {
				return payments.Result{}, err
			}
		}
		var err error
		if req.Amount, err = optionalAmount(b.Amount); err != nil {
			return payments.Result{}, err
		}
		if b.Reason != "" && !slices.Contains(refundReasons, b.Reason) {
			return payments.Result{}, fieldError{"reason", "must be one of " + strings.Join(refundReasons, ", ")}
		}
		if err := metadata(b.Metadata); err != nil {
			return payments.Result{}, err
		}
		return h.payments.Refund(r.Context(), req)
	})
}

func (h *Handler) captureCharge(w http.ResponseWriter, r *http.Request) {
	h.capture(w, r, h.payments.CaptureCharge)
}

func (h *Handler) capturePaymentIntent(w http.ResponseWriter, r *http.Request) {
	h.capture(w, r, h.payments.CapturePaymentIntent)
}

func (h *Handler) capture(w http.ResponseWriter, r *http.Request, capture func(ctx context.Context, req payments.CaptureRequest) (payments.Result, error)) {
	var b captureBody
	h.settle(w, r, &b, func(key string) (payments.Result, error) {
		req := payments.CaptureRequest{ID: r.PathValue("id"), IdempotencyKey: key}
		if err := objectID("id", req.ID); err != nil {
			return payments.Result{}, err
		}
		var err error
		if req.Amount, err = optionalAmount(b.Amount); err != nil {
			return payments.Result{}, err
		}
		return capture(r.Context(), req)
	})
}

func (h *Handler) cancelCharge(w http.ResponseWriter, r *http.Request) {
	var b struct{}
	h.settle(w, r, &b, func(key string) (payments.Result, error) {
		req := payments.CancelRequest{ID: r.PathValue("id"), IdempotencyKey: key}
		if err := objectID("id", req.ID); err != nil {
			return payments.Result{}, err
		}
		return h.payments.CancelCharge(r.Context(), req)
	})
}

func (h *Handler) cancelPaymentIntent(w http.ResponseWriter, r *http.Request) {
	var b cancelPaymentIntentBody
	h.settle(w, r, &b, func(key string) (payments.Result, error) {
		req := payments.CancelRequest{ID: r.PathValue("id"), Reason: b.Reason, IdempotencyKey: key}
		if err := objectID("id", req.ID); err != nil {
			return payments.Result{}, err
		}
		if b.Reason != "" && !slices.Contains(cancelReasons, b.Reason) {
			return payments.Result{}, fieldError{"reason", "must be one of " + strings.Join(cancelReasons, ", ")}
		}
		return h.payments.CancelPaymentIntent(r.Context(), req)
	})
}

// settle decodes an admin route's body (which may be empty: every field is
// optional on some), and answers with what do makes of it, given the
// request's idempotency key.
func (h *Handler) settle(w http.ResponseWriter, r *http.Request, body any, do func(idempotencyKey string) (payments.Result, error)) {
	err := decode(w, r, body)
	if errors.Is(err, errEmptyBody) {
		err = nil
	}
	var key string
	if err == nil {
		key, err = h.idempotencyKey(r)
	}
	var res payments.Result
	if err == nil {
		res, err = do(key)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

// optionalAmount is an amount that may be left out (zero).
func optionalAmount(raw json.RawMessage) (int64, error) {
	if s := strings.TrimSpace(string(raw)); s == "" || s == "null" {
		return 0, nil
	}
	return amount(raw)
}

// objectID checks a Stripe object id the api puts in a Stripe URL or form.
func objectID(field, id string) error {
	switch {
	case id == "":
		return fieldError{field, "is required"}
	case len(id) > maxIDLen:
		return fieldError{field, "is too long"}
	case strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "":
		return fieldError{field, "must be a Stripe id: letters, digits and _"}
	}
	return nil
}
