package httpapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"

	"github.com/stripe/stripe-go/v76"
)

// fieldError is a 400 about one request field.
type fieldError struct{ Field, Rule string }

func (e fieldError) Error() string { return e.Field + " " + e.Rule }

// requestError is a client error that is not about one field.
type requestError struct {
	Status  int
	Code    string
	Message string
}

func (e requestError) Error() string { return e.Message }

// errorBody is every error response: {"error": {...}}.
type errorBody struct {
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	Field       string `json:"field,omitempty"`
	Message     string `json:"message"`
}

// fail is the one place where an error becomes an HTTP answer. Stripe's own
// messages never carry the secret key; ours are built here and carry none either.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, body := classify(err)
	if status >= 500 {
		h.logger.Error("request failed", "path", r.URL.Path, "status", status, "error_type", body.Type, "error_code", body.Code)
	} else {
		h.logger.Info("request refused", "path", r.URL.Path, "status", status, "error_type", body.Type, "error_code", body.Code)
	}
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]errorBody{"error": body})
}

func classify(err error) (int, errorBody) {
	var fe fieldError
	var re requestError
	var se *stripe.Error
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, errorBody{Type: "invalid_request", Code: "invalid_field", Field: fe.Field, Message: fe.Error()}
	case errors.As(err, &re):
		return re.Status, errorBody{Type: "invalid_request", Code: re.Code, Message: re.Message}
	case errors.As(err, &se):
		return classifyStripe(se)
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, errorBody{Type: "stripe_unavailable", Message: "Stripe did not answer in time"}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return http.StatusGatewayTimeout, errorBody{Type: "stripe_unavailable", Message: "Stripe did not answer in time"}
		}
		return http.StatusBadGateway, errorBody{Type: "stripe_unavailable", Message: "Stripe could not be reached"}
	}
	return http.StatusInternalServerError, errorBody{Type: "internal", Message: "internal error"}
}

func classifyStripe(se *stripe.Error) (int, errorBody) {
	body := errorBody{Code: string(se.Code), DeclineCode: string(se.DeclineCode), Field: se.Param, Message: se.Msg}
	switch {
	case se.Type == stripe.ErrorTypeCard:
		body.Type = "card_error"
		return http.StatusPaymentRequired, body
	case se.Type == stripe.ErrorTypeIdempotency:
		body.Type = "idempotency_error"
		return http.StatusConflict, body
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		body.Type = "rate_limited"
		return http.StatusTooManyRequests, body
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// Stripe's message for a bad key quotes part of the key: say nothing of it.
		return http.StatusBadGateway, errorBody{Type: "stripe_misconfigured", Message: "the server's Stripe credentials were refused by Stripe"}
	case se.Type == stripe.ErrorTypeInvalidRequest:
		body.Type = "invalid_request"
		return http.StatusBadRequest, body
	default:
		return http.StatusBadGateway, errorBody{Type: "stripe_error", Message: "Stripe answered with an error (status " + strconv.Itoa(se.HTTPStatusCode) + ")"}
	}
}
