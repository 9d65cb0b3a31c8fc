package payments

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// STRIPE_TIMEOUT bounds the whole call: stripe-go retries an exchange that
// timed out, which without the bound would take the timeout twice and a
// backoff (≥ 0.5 s), past what API_WRITE_TIMEOUT was validated against.
func TestTimeoutBoundsTheRetry(t *testing.T) {
	var calls atomic.Int32
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_, _ = io.Copy(io.Discard, r.Body) // then net/http sees the client hang up
		// Never answers in time.
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer stub.Close()
	const timeout = 300 * time.Millisecond
	s := New(Config{SecretKey: "sk_test_0123456789abcdefABCDEFGH", APIBase: stub.URL, Currency: "usd",
		TokenKeys: subtoken.Keys{{Secret: []byte("0123456789abcdef0123456789abcdef")}}, TokenTTL: time.Hour, HTTPTimeout: timeout})

	for name, call := range map[string]func() error{
		"charge": func() error {
			_, err := s.Charge(context.Background(), ChargeRequest{Payment: Payment{Amount: 100}, Token: "tok_visa"})
			return err
		},
		"payment intent": func() error {
			_, err := s.CreatePaymentIntent(context.Background(), PaymentIntentRequest{Payment: Payment{Amount: 100}})
			return err
		},
	} {
		calls.Store(0)
		start := time.Now()
		err := call()
		took := time.Since(start)
		var ue *UpstreamError
		var ne net.Error
		if !errors.As(err, &ue) || !(errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())) {
			t.Fatalf("%s: error %v, want an UpstreamError that timed out", name, err)
		}
		// Twice the timeout and the smallest backoff would be 1.1 s.
		if took > 2*timeout+200*time.Millisecond {
			t.Errorf("%s took %s with a timeout of %s: the retry was not bounded", name, took, timeout)
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%s: Stripe got %d requests, want 1 (no retry once the time is up)", name, n)
		}
	}
}
