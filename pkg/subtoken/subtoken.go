// Package subtoken issues and checks subscription tokens: proof, signed by the
// api with a secret it shares with the notifier, that the holder may listen to
// one transaction's events until an expiry.
//
// The shared secret is a list (Keys), so that it can be rolled without a flag
// day: the first key signs, every key verifies (ParseKeys).
package subtoken

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/stripeline/stripeline/pkg/secret"
)

// Errors Verify returns.
var (
	ErrMalformed = errors.New("subscription token is malformed")
	ErrSignature = errors.New("subscription token signature does not match")
	ErrExpired   = errors.New("subscription token has expired")
	ErrWrongID   = errors.New("subscription token is for another transaction")
)

// Two token formats, the MAC always taken over everything before its dot:
//
//	v1.<expiry unix seconds>.<base64url(id)>.<base64url(HMAC-SHA256)>
//	v2.<key id>.<expiry unix seconds>.<base64url(id)>.<base64url(HMAC-SHA256)>
//
// v1 is signed by a key without an id (the single-secret setting), v2 names
// the key that signed it. The transaction id is in clear so a token for the
// wrong transaction can be told apart from a forged one.
const (
	v1 = "v1"
	v2 = "v2"
)

var b64 = base64.RawURLEncoding

// Key is one secret and the id that names it in the tokens it signs; ID is
// empty for the single-secret form of the setting.
type Key struct {
	ID     string
	Secret []byte
}

// Keys verify tokens signed with any of them; the first signs.
type Keys []Key

// keyID is what a key id may be: short, and free of the separators of the
// setting and of the token.
var keyID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ParseKeys reads SUBSCRIPTION_TOKEN_SECRET: either one secret (the form from
// before key ids; its tokens are v1), or comma-separated `<key id>:<secret>`
// pairs, the signing key first. A value without ',' and ':' is the single
// form; generated secrets (`openssl rand -hex 32`, base64) never hold either.
func ParseKeys(value string) (Keys, error) {
	if !strings.ContainsAny(value, ",:") {
		return Keys{{Secret: []byte(value)}}, nil
	}
	var keys Keys
	seen := map[string]bool{}
	for i, pair := range strings.Split(value, ",") {
		id, sec, ok := strings.Cut(strings.TrimSpace(pair), ":")
		switch {
		case !ok || !keyID.MatchString(id):
			return nil, fmt.Errorf("entry %d is not <key id>:<secret> with a key id of 1 to 32 letters, digits, _ or -", i+1)
		case seen[id]:
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		seen[id] = true
		keys = append(keys, Key{ID: id, Secret: []byte(sec)})
	}
	return keys, nil
}

// CheckSetting reports why value cannot be the setting name (a list of
// keys): it does not parse, or one of its secrets fails secret.Check. No
// message quotes a secret.
func CheckSetting(name, value string) error {
	if value == "" {
		return secret.Check(name, value, secret.MinTokenSecret)
	}
	keys, err := ParseKeys(value)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	for _, k := range keys {
		n := name
		if k.ID != "" {
			n = name + " (key " + k.ID + ")"
		}
		errs = append(errs, secret.Check(n, string(k.Secret), secret.MinTokenSecret))
	}
	return errors.Join(errs...)
}

// Sign returns a token for id, valid until expires, signed with the one secret.
func Sign(secret []byte, id string, expires time.Time) string {
	return Keys{{Secret: secret}}.Sign(id, expires)
}

// Verify checks that token was signed with secret for id and has not expired at now.
func Verify(secret []byte, token, id string, now time.Time) error {
	_, err := Keys{{Secret: secret}}.Verify(token, id, now)
	return err
}

// Sign returns a token for id, valid until expires, signed with the first key.
func (k Keys) Sign(id string, expires time.Time) string {
	key := k[0]
	body := strconv.FormatInt(expires.Unix(), 10) + "." + b64.EncodeToString([]byte(id))
	if key.ID == "" {
		body = v1 + "." + body
	} else {
		body = v2 + "." + key.ID + "." + body
	}
	return body + "." + mac(key.Secret, body)
}

// Verify checks that token was signed with one of the keys for id and has not
// expired at now, and returns when it expires.
func (k Keys) Verify(token, id string, now time.Time) (expires time.Time, err error) {
	parts := strings.Split(token, ".")
	var candidates Keys
	switch {
	case len(parts) == 4 && parts[0] == v1:
		// Signed before key ids, by whichever secret was the only one then.
		candidates = k
	case len(parts) == 5 && parts[0] == v2:
		for _, key := range k {
			if key.ID == parts[1] && key.ID != "" {
				candidates = Keys{key}
			}
		}
		parts = append(parts[:1], parts[2:]...) // the same fields as v1 from here on
	default:
		return time.Time{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return time.Time{}, ErrMalformed
	}
	tokenID, err := b64.DecodeString(parts[2])
	if err != nil {
		return time.Time{}, ErrMalformed
	}
	body, sig := token[:strings.LastIndexByte(token, '.')], parts[3]
	signed := false
	for _, key := range candidates {
		if hmac.Equal([]byte(sig), []byte(mac(key.Secret, body))) {
			signed = true
			break
		}
	}
	switch {
	case !signed:
		return time.Time{}, ErrSignature
	case string(tokenID) != id:
		return time.Time{}, ErrWrongID
	case now.Unix() >= exp:
		return time.Time{}, ErrExpired
	}
	return time.Unix(exp, 0), nil
}

func mac(secret []byte, body string) string {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(body))
	return b64.EncodeToString(h.Sum(nil))
}
