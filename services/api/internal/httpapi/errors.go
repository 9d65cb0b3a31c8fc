package httpapi

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/stripe/stripe-go/v76"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/api/internal/payments"
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

// authError is a 401: no credential, or a wrong one.
type authError struct{ Code, Message string }

func (e authError) Error() string { return e.Message }

// forbiddenError is a 403: a valid credential that does not open this route.
type forbiddenError struct{ Code, Message string }

func (e forbiddenError) Error() string { return e.Message }

// tokenError is a subscription token that does not open the id asked for.
type tokenError struct{ err error }

func (e tokenError) Error() string { return e.err.Error() }

// storeError is the event store failing.
type storeError struct{ err error }

func (e storeError) Error() string { return "event store: " + e.err.Error() }

// errorBody is every error response: {"error": {...}}.
type errorBody struct {
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	Field       string `json:"field,omitempty"`
	Message     string `json:"message"`
	// Charge is the declined charge's id: its charge.failed event follows.
	Charge string `json:"charge,omitempty"`
}

// answer is what classify decides for an error.
type answer struct {
	status     int
	body       errorBody
	retryAfter string
}

// fail is the one place where an error becomes an HTTP answer and a log
// line. The log names the route pattern, not the path, because the
// Backendless path carries the client's API key.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	a := classify(err)
	a.body.Message = h.scrub.message(a.body.Message)
	attrs := []any{"route", r.Pattern, "status", a.status, "error_type", a.body.Type, "error_code", a.body.Code}
	var se *stripe.Error
	if errors.As(err, &se) && se.RequestID != "" {
		attrs = append(attrs, "stripe_request_id", se.RequestID)
	}
	if a.status >= 500 {
		attrs = append(attrs, "error", h.scrub.text(err.Error()))
		h.logger.Error("request failed", attrs...)
	} else {
		h.logger.Info("request refused", attrs...)
	}
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	writeJSON(w, a.status, map[string]errorBody{"error": a.body})
}

func classify(err error) answer {
	var (
		fe fieldError
		re requestError
		ae authError
		fb forbiddenError
		te tokenError
		se *stripe.Error
		ue *payments.UpstreamError
		st storeError
		rl rateError
	)
	switch {
	case errors.As(err, &fe):
		return answer{status: http.StatusBadRequest, body: errorBody{Type: "invalid_request", Code: "invalid_field", Field: fe.Field, Message: fe.Error()}}
	case errors.As(err, &re):
		return answer{status: re.Status, body: errorBody{Type: "invalid_request", Code: re.Code, Message: re.Message}}
	case errors.As(err, &ae):
		return answer{status: http.StatusUnauthorized, body: errorBody{Type: "authentication_error", Code: ae.Code, Message: ae.Message}}
	case errors.As(err, &fb):
		return answer{status: http.StatusForbidden, body: errorBody{Type: "permission_error", Code: fb.Code, Message: fb.Message}}
	case errors.Is(err, payments.ErrCaptured):
		return answer{status: http.StatusBadRequest, body: errorBody{Type: "invalid_request", Code: "charge_already_captured", Message: err.Error()}}
	case errors.As(err, &rl):
		return answer{status: http.StatusTooManyRequests, body: errorBody{Type: "rate_limited", Code: "rate_limited", Message: rl.Error()}, retryAfter: rl.retryAfter()}
	case errors.As(err, &te):
		return answer{status: http.StatusForbidden, body: errorBody{Type: "authentication_error", Code: tokenCode(te.err), Message: te.Error()}}
	case errors.As(err, &se):
		return classifyStripe(se)
	case errors.As(err, &ue):
		if payments.TimedOut(ue.Err) {
			return answer{status: http.StatusGatewayTimeout, body: errorBody{Type: "stripe_unavailable", Code: "stripe_timeout", Message: "Stripe did not answer in time"}}
		}
		return answer{status: http.StatusBadGateway, body: errorBody{Type: "stripe_unavailable", Code: "stripe_unreachable", Message: "Stripe could not be reached or did not answer as Stripe"}}
	case errors.As(err, &st):
		return answer{status: http.StatusServiceUnavailable, body: errorBody{Type: "unavailable", Code: "event_store_unavailable", Message: "the event store is unavailable"}, retryAfter: "1"}
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads this answer, the log keeps it apart.
		return answer{status: 499, body: errorBody{Type: "canceled", Message: "the request was canceled"}}
	}
	return answer{status: http.StatusInternalServerError, body: errorBody{Type: "internal", Message: "internal error"}}
}

func tokenCode(err error) string {
	switch {
	case errors.Is(err, subtoken.ErrExpired):
		return "subscription_token_expired"
	case errors.Is(err, subtoken.ErrWrongID):
		return "subscription_token_wrong_id"
	default:
		return "subscription_token_invalid"
	}
}

// stripeParams maps Stripe's parameter names to this api's field names.
var stripeParams = map[string]string{"source": "token"}

func classifyStripe(se *stripe.Error) answer {
	field := se.Param
	if f, ok := stripeParams[field]; ok {
		field = f
	} else if strings.HasPrefix(field, "metadata[") {
		field = "metadata"
	}
	body := errorBody{Code: string(se.Code), DeclineCode: string(se.DeclineCode), Field: field, Message: se.Msg, Charge: se.ChargeID}
	switch {
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		// Stripe's message for a bad key quotes part of the key: say nothing of it.
		return answer{status: http.StatusBadGateway, body: errorBody{Type: "stripe_misconfigured", Code: "stripe_credentials_refused", Message: "the server's Stripe credentials were refused by Stripe"}}
	case se.Type == stripe.ErrorTypeCard:
		body.Type = "card_error"
		return answer{status: http.StatusPaymentRequired, body: body}
	case se.Type == stripe.ErrorTypeIdempotency || se.HTTPStatusCode == http.StatusConflict:
		body.Type = "idempotency_error"
		return answer{status: http.StatusConflict, body: body}
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		body.Type = "rate_limited"
		return answer{status: http.StatusTooManyRequests, body: body, retryAfter: retryAfter(se)}
	case se.HTTPStatusCode >= 500 || se.Type == stripe.ErrorTypeAPI:
		return answer{status: http.StatusBadGateway, body: errorBody{Type: "stripe_unavailable", Code: "stripe_error", Message: "Stripe failed to answer (status " + strconv.Itoa(se.HTTPStatusCode) + ")"}}
	case se.Type == stripe.ErrorTypeInvalidRequest || se.HTTPStatusCode == http.StatusBadRequest || se.HTTPStatusCode == http.StatusNotFound:
		body.Type = "invalid_request"
		return answer{status: http.StatusBadRequest, body: body}
	default:
		return answer{status: http.StatusBadGateway, body: errorBody{Type: "stripe_error", Code: "stripe_error", Message: "Stripe answered with an unexpected error (status " + strconv.Itoa(se.HTTPStatusCode) + ")"}}
	}
}

// retryAfter passes on Stripe's Retry-After when it sends a number of
// seconds, and asks for one second otherwise.
func retryAfter(se *stripe.Error) string {
	if se.LastResponse != nil {
		if v := se.LastResponse.Header.Get("Retry-After"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				return v
			}
		}
	}
	return "1"
}

// stripeKey matches anything shaped like a Stripe secret or restricted
// key, masked ones included.
var stripeKey = regexp.MustCompile(`\b(?:sk|rk)_(?:test|live)_[0-9A-Za-z*]*`)

// scrubber keeps secrets out of what the api says. Client-facing messages
// lose anything shaped like a Stripe secret key; that rule does not depend
// on the real key, so a client echoing guesses through an error message
// learns nothing from it. Log lines are also withheld whole when they hold
// any 8-character piece of a configured secret: only operators read those.
type scrubber struct{ pieces []string }

const secretPiece = 8

func newScrubber(secrets []string) scrubber {
	var s scrubber
	for _, sec := range secrets {
		if len(sec) < secretPiece {
			if sec != "" {
				s.pieces = append(s.pieces, sec)
			}
			continue
		}
		for i := 0; i+secretPiece <= len(sec); i++ {
			s.pieces = append(s.pieces, sec[i:i+secretPiece])
		}
	}
	return s
}

// message is the text a client may see.
func (s scrubber) message(msg string) string {
	return stripeKey.ReplaceAllString(msg, "[redacted]")
}

// text is an error text fit for a log line.
func (s scrubber) text(t string) string {
	t = stripeKey.ReplaceAllString(t, "[redacted]")
	for _, p := range s.pieces {
		if strings.Contains(t, p) {
			return "[error text withheld: it contained a secret]"
		}
	}
	return t
}
