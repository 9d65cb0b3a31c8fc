package httpapi

import (
	"net/http"
	"net/url"

	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// 3-D Secure. A PaymentIntent confirmed with a PaymentMethod, at creation
// ("confirm": true) or later on POST /Stripe/payment-intents/{id}/confirm,
// may come back from Stripe in requires_action: the answer is Stripe's
// object, whose next_action and client_secret Stripe.js needs to finish the
// authentication (stripe.handleNextAction). The client then follows the
// outcome on the notifier or GET /Stripe/transactions/{id}.

const maxReturnURL = 2048

type confirmBody struct {
	PaymentMethod string `json:"payment_method"`
	ReturnURL     string `json:"return_url"`
}

// confirmPaymentIntent confirms a PaymentIntent the client made. The API key
// ships in every app, so it also takes the PaymentIntent's subscription
// token (the one its creation answered): nobody confirms, or learns the
// client_secret of, a payment that is not theirs.
func (h *Handler) confirmPaymentIntent(w http.ResponseWriter, r *http.Request) {
	var b confirmBody
	err := decode(w, r, &b)
	id := r.PathValue("id")
	if err == nil {
		err = objectID("id", id)
	}
	if err == nil {
		err = h.subscriptionTokenAlways(r, id)
	}
	if err == nil {
		err = objectID("payment_method", b.PaymentMethod)
	}
	if err == nil {
		err = returnURL(b.ReturnURL)
	}
	var key string
	if err == nil {
		key, err = h.idempotencyKey(r)
	}
	var res payments.Result
	if err == nil {
		res, err = h.payments.ConfirmPaymentIntent(r.Context(), payments.ConfirmRequest{
			ID: id, PaymentMethod: b.PaymentMethod, ReturnURL: b.ReturnURL, IdempotencyKey: key,
		})
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, res)
}

// returnURL checks where a redirect-based next_action brings the payer
// back: an absolute http(s) URL, or nothing.
func returnURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	switch {
	case len(s) > maxReturnURL:
		return fieldError{"return_url", "is too long"}
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || hasControl(s):
		return fieldError{"return_url", "must be an absolute http(s) URL"}
	}
	return nil
}
