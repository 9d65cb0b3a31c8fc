// Package httpapi is the api's HTTP port: routes, request decoding, and the
// one place where errors become HTTP statuses.
package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// Payments is what the routes need from the use cases.
type Payments interface {
	Charge(ctx context.Context, req payments.ChargeRequest) (payments.Result, error)
}

// Handler serves the api's routes.
type Handler struct {
	payments Payments
	logger   *slog.Logger
}

// New registers the api's routes on mux.
func New(mux *http.ServeMux, p Payments, logger *slog.Logger) *Handler {
	h := &Handler{payments: p, logger: logger}
	// The seed's URL shapes: plain, Backendless's service path, and the
	// Backendless path with the app id and API key in it.
	for _, prefix := range []string{"", "/api/services", "/{appID}/{apiKey}/services"} {
		mux.HandleFunc("POST "+prefix+"/Stripe/charge", h.charge)
	}
	return h
}

const maxBody = 64 << 10

type chargeBody struct {
	Token       string            `json:"token"`
	Amount      json.Number       `json:"amount"`
	Currency    string            `json:"currency"`
	Description string            `json:"description"`
	Metadata    map[string]string `json:"metadata"`
}

func (h *Handler) charge(w http.ResponseWriter, r *http.Request) {
	var body chargeBody
	if err := decode(w, r, &body); err != nil {
		h.fail(w, r, err)
		return
	}
	req, err := body.request()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req.IdempotencyKey = idempotencyKey(r)
	res, err := h.payments.Charge(r.Context(), req)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

func (b chargeBody) request() (payments.ChargeRequest, error) {
	if b.Token == "" {
		return payments.ChargeRequest{}, fieldError{"token", "is required: the card token (tok_…) or payment method from Stripe.js"}
	}
	if b.Amount == "" {
		return payments.ChargeRequest{}, fieldError{"amount", "is required: a positive integer in the currency's minor unit (2000 = $20.00)"}
	}
	amount, err := b.Amount.Int64()
	if err != nil || strings.ContainsAny(string(b.Amount), ".eE") {
		return payments.ChargeRequest{}, fieldError{"amount", fmt.Sprintf("must be an integer in the currency's minor unit (2000 = $20.00), got %s", b.Amount)}
	}
	if amount <= 0 {
		return payments.ChargeRequest{}, fieldError{"amount", "must be positive"}
	}
	return payments.ChargeRequest{
		Token:       b.Token,
		Amount:      amount,
		Currency:    strings.ToLower(b.Currency),
		Description: b.Description,
		Metadata:    b.Metadata,
	}, nil
}

// idempotencyKey is the client's Idempotency-Key, or a fresh one, so a
// network retry inside stripe-go never charges twice.
func idempotencyKey(r *http.Request) string {
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		return k
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "stripeline-" + hex.EncodeToString(b[:])
}

func decode(w http.ResponseWriter, r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return requestError{http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is over %d bytes", maxBody)}
		case errors.As(err, &typeErr):
			return fieldError{typeErr.Field, fmt.Sprintf("must be a JSON %s", typeErr.Type)}
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			return fieldError{strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`), "is not a known field"}
		case errors.Is(err, io.EOF):
			return requestError{http.StatusBadRequest, "invalid_json", "request body is empty; send a JSON object"}
		default:
			return requestError{http.StatusBadRequest, "invalid_json", "request body is not valid JSON: " + err.Error()}
		}
	}
	if dec.More() {
		return requestError{http.StatusBadRequest, "invalid_json", "request body has data after the JSON object"}
	}
	return nil
}

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
