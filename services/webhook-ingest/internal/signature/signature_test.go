package signature

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_700_000_000, 0)
	v := New([]string{"whsec_old", "whsec_new"}, 300*time.Second)
	ts := strconv.FormatInt(now.Unix(), 10)
	stripeSigned := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: "whsec_new", Timestamp: now})

	for _, tc := range []struct {
		name   string
		header string
		body   []byte
		want   error
	}{
		{"first secret", stripeevent.Sign(body, now, "whsec_old"), body, nil},
		{"second secret", stripeevent.Sign(body, now, "whsec_new"), body, nil},
		{"both, as while rolling", stripeevent.Sign(body, now, "whsec_new", "whsec_old"), body, nil},
		{"an unknown secret beside a known one", stripeevent.Sign(body, now, "whsec_other", "whsec_new"), body, nil},
		{"signed by stripe-go", stripeSigned.Header, body, nil},
		{"v0 and spaces ignored", stripeevent.Sign(body, now, "whsec_old") + ", v0=abcd", body, nil},
		{"at the tolerance, past", stripeevent.Sign(body, now.Add(-300*time.Second), "whsec_old"), body, nil},
		{"at the tolerance, future", stripeevent.Sign(body, now.Add(300*time.Second), "whsec_old"), body, nil},
		{"missing", "", body, ErrMissing},
		{"garbage", "garbage", body, ErrMalformed},
		{"no t", "v1=" + stripeevent.Sign(body, now, "whsec_old")[len("t="+ts+",v1="):], body, ErrMalformed},
		{"no v1", "t=" + ts, body, ErrMalformed},
		{"t not a number", "t=abc,v1=00", body, ErrMalformed},
		{"t twice", stripeevent.Sign(body, now, "whsec_old") + ",t=" + ts, body, ErrMalformed},
		{"unknown secret", stripeevent.Sign(body, now, "whsec_other"), body, ErrNoMatch},
		{"body changed", stripeevent.Sign(body, now, "whsec_old"), []byte(`{"id":"evt_2"}`), ErrNoMatch},
		{"v1 not hex", "t=" + ts + ",v1=zz", body, ErrNoMatch},
		{"stale", stripeevent.Sign(body, now.Add(-301*time.Second), "whsec_old"), body, ErrStale},
		{"future", stripeevent.Sign(body, now.Add(301*time.Second), "whsec_old"), body, ErrFuture},
		{"forged and stale is forged", stripeevent.Sign(body, now.Add(-time.Hour), "whsec_other"), body, ErrNoMatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := v.Verify(tc.body, tc.header, now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify(%q) = %v, want %v", tc.header, err, tc.want)
			}
		})
	}
}

// What this package accepts, stripe-go accepts too (it only accepts more:
// any future timestamp).
func TestAgreesWithStripeGo(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"charge.succeeded"}`)
	now := time.Now()
	v := New([]string{"whsec_a"}, 300*time.Second)
	for _, at := range []time.Duration{0, -time.Minute, -299 * time.Second} {
		h := stripeevent.Sign(body, now.Add(at), "whsec_a")
		if err := v.Verify(body, h, now); err != nil {
			t.Errorf("age %s: Verify: %v", -at, err)
		}
		if err := webhook.ValidatePayloadWithTolerance(body, h, "whsec_a", 300*time.Second); err != nil {
			t.Errorf("age %s: stripe-go: %v", -at, err)
		}
	}
}
