package stripeevent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// Sign returns the Stripe-Signature header Stripe would send for body signed
// with each of secrets at t: "t=<unix>,v1=<hex>[,v1=<hex>…]". Senders of test
// and load traffic use it; the ingest service verifies with stripe-go.
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	header := "t=" + ts
	for _, s := range secrets {
		m := hmac.New(sha256.New, []byte(s))
		m.Write([]byte(ts))
		m.Write([]byte{'.'})
		m.Write(body)
		header += ",v1=" + hex.EncodeToString(m.Sum(nil))
	}
	return header
}
