// Package subtoken issues and checks subscription tokens: proof, signed by the
// api with a secret it shares with the notifier, that the holder may listen to
// one transaction's events until an expiry.
package subtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Errors Verify returns.
var (
	ErrMalformed = errors.New("subscription token is malformed")
	ErrSignature = errors.New("subscription token signature does not match")
	ErrExpired   = errors.New("subscription token has expired")
	ErrWrongID   = errors.New("subscription token is for another transaction")
)

// A token is "v1.<expiry unix seconds>.<base64url(id)>.<base64url(HMAC-SHA256)>",
// the MAC taken over everything before its dot. The id is in clear so a
// token for the wrong transaction can be told apart from a forged one.
const version = "v1"

var b64 = base64.RawURLEncoding

// Sign returns a token for id, valid until expires.
func Sign(secret []byte, id string, expires time.Time) string {
	body := version + "." + strconv.FormatInt(expires.Unix(), 10) + "." + b64.EncodeToString([]byte(id))
	return body + "." + mac(secret, body)
}

// Verify checks that token was signed with secret for id and has not expired at now.
func Verify(secret []byte, token, id string, now time.Time) error {
	parts := strings.Split(token, ".")
	if len(parts) != 4 || parts[0] != version {
		return ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return ErrMalformed
	}
	tokenID, err := b64.DecodeString(parts[2])
	if err != nil {
		return ErrMalformed
	}
	body := strings.Join(parts[:3], ".")
	if !hmac.Equal([]byte(parts[3]), []byte(mac(secret, body))) {
		return ErrSignature
	}
	if string(tokenID) != id {
		return ErrWrongID
	}
	if now.Unix() >= exp {
		return ErrExpired
	}
	return nil
}

func mac(secret []byte, body string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(body))
	return b64.EncodeToString(h.Sum(nil))
}
