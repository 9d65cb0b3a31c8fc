// Package signature verifies the Stripe-Signature header of a webhook:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]", one v1 per
// secret active at Stripe while the endpoint's secret is being rolled.
//
// stripe-go's webhook.ValidatePayload is not used because it cannot tell the
// cases apart that the service must answer differently, and accepts what the
// service must refuse: a header without t= counts as "too old", a timestamp
// in the future is accepted whatever its distance, and it checks one secret.
package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
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
	secrets   [][]byte
	tolerance time.Duration
}

// New returns a Verifier for secrets (whsec_… strings, used as given, as
// Stripe does) accepting timestamps within tolerance of the clock, either way.
func New(secrets []string, tolerance time.Duration) *Verifier {
	v := &Verifier{tolerance: tolerance}
	for _, s := range secrets {
		v.secrets = append(v.secrets, []byte(s))
	}
	return v
}

// Verify reports whether header signs body with one of the secrets at a
// time within the tolerance of now. The signature is checked before the
// timestamp so that a forged header is reported as forged, whatever its age.
func (v *Verifier) Verify(body []byte, header string, now time.Time) error {
	if header == "" {
		return ErrMissing
	}
	ts, sigs, err := parse(header)
	if err != nil {
		return err
	}
	if !v.matches(body, ts, sigs) {
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

func (v *Verifier) matches(body []byte, ts int64, sigs [][]byte) bool {
	prefix := strconv.AppendInt(nil, ts, 10)
	prefix = append(prefix, '.')
	for _, secret := range v.secrets {
		m := hmac.New(sha256.New, secret)
		m.Write(prefix)
		m.Write(body)
		want := m.Sum(nil)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				return true
			}
		}
	}
	return false
}

// parse reads the timestamp and the v1 signatures. Unknown schemes (v0, …)
// are skipped, as Stripe documents; a v1 value that is not hex cannot match
// and is skipped too.
func parse(header string) (ts int64, sigs [][]byte, err error) {
	var haveT, haveV1 bool
	for pair := range strings.SplitSeq(header, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok {
			return 0, nil, ErrMalformed
		}
		switch k {
		case "t":
			if haveT {
				return 0, nil, ErrMalformed
			}
			ts, err = strconv.ParseInt(val, 10, 64)
			if err != nil || ts <= 0 {
				return 0, nil, ErrMalformed
			}
			haveT = true
		case "v1":
			haveV1 = true
			if sig, err := hex.DecodeString(val); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveT || !haveV1 {
		return 0, nil, ErrMalformed
	}
	return ts, sigs, nil
}
