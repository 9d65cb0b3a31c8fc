package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// keyring holds the digests of the configured API keys. Comparing
// fixed-size digests in constant time tells an attacker neither a key's
// length nor how much of a guess was right.
type keyring [][sha256.Size]byte

func newKeyring(keys []string) keyring {
	var k keyring
	for _, key := range keys {
		if key = strings.TrimSpace(key); key != "" {
			k = append(k, sha256.Sum256([]byte(key)))
		}
	}
	return k
}

func (k keyring) valid(key string) bool {
	d := sha256.Sum256([]byte(key))
	ok := 0
	for _, want := range k {
		ok |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	return ok == 1
}

// check accepts a request whose every presented key (the Backendless path's
// and X-API-Key) is a configured one, and at least one is presented.
func (k keyring) check(r *http.Request) error {
	if len(k) == 0 {
		return nil // authentication is off: see docs/api.md
	}
	presented := 0
	for _, key := range []string{r.PathValue("apiKey"), r.Header.Get("X-API-Key")} {
		if key == "" {
			continue
		}
		presented++
		if !k.valid(key) {
			return authError{"invalid_api_key", "the API key is not valid"}
		}
	}
	if presented == 0 {
		return authError{"missing_api_key", "an API key is required: send it in the X-API-Key header or the /{app-id}/{api-key}/services/… path"}
	}
	return nil
}

func (h *Handler) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h.keys.check(r); err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r)
	}
}

// adminOnly lets through a request whose X-API-Key is an admin key. A
// client key gets 403: it is a valid credential, for other routes. The key
// is never taken from the URL, where proxies and browsers record it.
func (h *Handler) adminOnly(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("X-API-Key")
		var err error
		switch {
		case key == "":
			err = authError{"missing_api_key", "an admin API key is required in the X-API-Key header"}
		case h.admins.valid(key):
		case h.keys.valid(key):
			err = forbiddenError{"admin_key_required", "this route takes an admin key (ADMIN_API_KEYS), not a client API key"}
		case len(h.admins) == 0:
			err = forbiddenError{"admin_keys_not_set", "this route is off: the server has no ADMIN_API_KEYS"}
		default:
			err = authError{"invalid_api_key", "the API key is not valid"}
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next(w, r)
	}
}
