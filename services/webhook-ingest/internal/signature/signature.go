// Package signature verifies the Stripe-Signature header of a webhook:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]", one v1 per
// secret active at Stripe while the endpoint's secret is being rolled.
//
// The HMAC itself is checked by stripe-go (webhook.ValidatePayload's
// signature check, once per configured secret). The rest is ours, because
// stripe-go cannot tell apart the cases the service must answer differently
// and accepts what the service must refuse: a header without t= counts as
// "too old", a timestamp in the future is accepted whatever its distance,
// and it checks one secret at a time.
package signature

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// Why a header was refused. Every error Verify returns is one of these.
var (
	ErrMissing   = errors.New("the Stripe-Signature header is missing")
	ErrMalformed = errors.New("the Stripe-Signature header is not t=<unix seconds>,v1=<hex>")
	ErrNoMatch   = errors.New("no v1 signature matches any configured secret")
	ErrStale     = errors.New("the signature's timestamp is older than the tolerance")
	ErrFuture    = errors.New("the signature's timestamp is further in the future than the tolerance")
)

// Verifier checks signatures against every configured secret.
type Verifier struct {
	secrets   []string
	tolerance time.Duration
}

// New returns a Verifier for secrets (whsec_… strings, used as given, as
// Stripe does) accepting timestamps within tolerance of the clock, either way.
func New(secrets []string, tolerance time.Duration) *Verifier {
	return &Verifier{secrets: secrets, tolerance: tolerance}
}

// Verify reports whether header signs body with one of the secrets at a
// time within the tolerance of now. The signature is checked before the
// timestamp so that a forged header is reported as forged, whatever its age.
func (v *Verifier) Verify(body []byte, header string, now time.Time) error {
	if header == "" {
		return ErrMissing
	}
	ts, err := parse(header)
	if err != nil {
		return err
	}
	if !v.matches(body, header) {
		return ErrNoMatch
	}
	signedAt := time.Unix(ts, 0)
	switch age := now.Sub(signedAt); {
	case age > v.tolerance:
		return ErrStale
	case -age > v.tolerance:
		return ErrFuture
	}
	return nil
}

// matches reports whether one of the header's v1 signatures is the HMAC of
// its timestamp and body under one of the secrets (the age is checked apart).
func (v *Verifier) matches(body []byte, header string) bool {
	for _, secret := range v.secrets {
		if webhook.ValidatePayloadIgnoringTolerance(body, header, secret) == nil {
			return true
		}
	}
	return false
}

// parse reads the timestamp and checks the header's shape. Unknown schemes
// (v0, …) are skipped, as Stripe documents; a v1 value that is not hex
// cannot match and is left to the signature check.
func parse(header string) (ts int64, err error) {
	var haveT, haveV1 bool
	for pair := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return 0, ErrMalformed
		}
		switch k {
		case "t":
			if haveT {
				return 0, ErrMalformed
			}
			ts, err = strconv.ParseInt(val, 10, 64)
			if err != nil || ts <= 0 {
				return 0, ErrMalformed
			}
			haveT = true
		case "v1":
			haveV1 = true
		}
	}
	if !haveT || !haveV1 {
		return 0, ErrMalformed
	}
	return ts, nil
}
