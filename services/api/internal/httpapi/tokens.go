package httpapi

import (
	"net/http"
)

// maxTokenLen is far above any token's length (a v2 token of a 255-byte id
// is under 500 bytes).
const maxTokenLen = 1024

// renewBody is POST /Stripe/subscription-tokens's: a transaction id and a
// token of it that is still valid.
type renewBody struct {
	ID    string `json:"id"`
	Token string `json:"token"`
}

// renewToken answers a new subscribe block, with a token that expires
// SUBSCRIPTION_TOKEN_TTL from now, for a client that shows the API key and
// the transaction's current token. The client then sends the new token in a
// refresh frame to the notifier, before the old one expires.
func (h *Handler) renewToken(w http.ResponseWriter, r *http.Request) {
	var body renewBody
	err := decode(w, r, &body)
	switch {
	case err != nil:
	case body.ID == "":
		err = fieldError{"id", "is required: the transaction id (ch_…, pi_…) the token is for"}
	case len(body.ID) > maxIDLen:
		err = fieldError{"id", "is too long"}
	case body.Token == "":
		err = fieldError{"token", "is required: the transaction's current subscription token, still valid"}
	case len(body.Token) > maxTokenLen:
		err = fieldError{"token", "is too long"}
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sub, err := h.payments.RenewSubscription(body.ID, body.Token)
	if err != nil {
		h.fail(w, r, tokenError{err})
		return
	}
	writeJSON(w, http.StatusOK, sub)
}
