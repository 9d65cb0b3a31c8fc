package httpapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// The rules of a client's Idempotency-Key (docs/security.md, "Idempotency
// keys"). Stripe replays the first answer to any request that repeats a key
// with the same parameters, client_secret included, and the api adds a
// fresh subscription token to it: a key is a bearer secret for 24 hours, so
// it must be one nobody else can guess.
const (
	minIdempotencyKey = 32  // a UUID (36) passes; an order number does not
	maxIdempotencyKey = 255 // Stripe's limit
	minKeyDistinct    = 8   // "aaaa…" or "0000…1" are not random
	idempotencyChars  = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
)

// idempotencyScope keys the HMAC that scopes client keys: derived from the
// token secret that signs (the first of SUBSCRIPTION_TOKEN_SECRET), so it
// needs no setting of its own and differs per deployment.
func idempotencyScope(keys subtoken.Keys) []byte {
	var secret []byte
	if len(keys) > 0 {
		secret = keys[0].Secret
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("stripeline idempotency-key scope v1"))
	return m.Sum(nil)
}

// idempotencyKey is the key sent to Stripe for r. Without an
// Idempotency-Key header it is a fresh random one, so that a network retry
// inside stripe-go never charges twice. With one, the client's key must be
// unguessable (checkIdempotencyKey) and is scoped before it goes to
// Stripe: an HMAC of the API key that made the request, the operation (and
// the object it names) and the client's key. An honest retry (same key,
// same app, same route) gets the same Stripe key and so Stripe's replay;
// the same key from another app's API key, on another route, or from a
// caller of the Stripe account other than this api, is a different key at
// Stripe and replays nothing.
func (h *Handler) idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if k == "" {
		var b [16]byte
		_, _ = rand.Read(b[:])
		return "stripeline-" + hex.EncodeToString(b[:]), nil
	}
	if err := checkIdempotencyKey(k); err != nil {
		return "", err
	}
	apiKey := r.Header.Get("X-API-Key")
	if apiKey == "" {
		apiKey = r.PathValue("apiKey")
	}
	_, op, _ := strings.Cut(r.Pattern, "/Stripe/") // the same under every URL shape
	m := hmac.New(sha256.New, h.idemScope)
	for _, part := range []string{apiKey, r.Method, op, r.PathValue("id"), k} {
		m.Write([]byte(part))
		m.Write([]byte{0})
	}
	return "stripeline-c-" + hex.EncodeToString(m.Sum(nil)), nil
}

// checkIdempotencyKey refuses a key that is too short, too long, outside
// [A-Za-z0-9_-], or made of few distinct characters.
func checkIdempotencyKey(k string) error {
	const how = "; send a random one per payment, such as crypto.randomUUID() or 16 random bytes in hex, and the same one only to retry it"
	switch {
	case len(k) > maxIdempotencyKey:
		return fieldError{"Idempotency-Key", fmt.Sprintf("header is over %d characters", maxIdempotencyKey)}
	case len(k) < minIdempotencyKey:
		return fieldError{"Idempotency-Key", fmt.Sprintf("header is under %d characters: it must be unguessable%s", minIdempotencyKey, how)}
	case strings.Trim(k, idempotencyChars) != "":
		return fieldError{"Idempotency-Key", "header may hold only letters, digits, - and _" + how}
	}
	distinct := map[rune]bool{}
	for _, c := range k {
		distinct[c] = true
	}
	if len(distinct) < minKeyDistinct {
		return fieldError{"Idempotency-Key", "header does not look random" + how}
	}
	return nil
}
