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
		t.Logf("%s: answered after %s (timeout %s)", name, took.Round(time.Millisecond), timeout)
		// The answer comes at the deadline, while the call may still be on
		// its way: on a loaded machine the first request may not even have
		// landed (0). What must never be is a retry: an unbounded call
		// retries before it answers. (How long it took is logged, not
		// asserted: no timed assertions in tests.)
		if n := calls.Load(); n > 1 {
			t.Errorf("%s: Stripe got %d requests, want at most 1 (no retry once the time is up)", name, n)
		}
	}
}

// stripe-go sleeps at least 0.5 s before retrying a 5xx it is told to
// retry, without watching the context: STRIPE_TIMEOUT must still bound the
// whole call, so the answer comes at the deadline, not after the sleep.
func TestTimeoutBoundsTheBackoff(t *testing.T) {
	var calls atomic.Int32
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Stripe-Should-Retry", "true")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"type":"api_error","message":"try again"}}`))
	}))
	defer stub.Close()
	const timeout = 100 * time.Millisecond
	s := New(Config{SecretKey: "sk_test_0123456789abcdefABCDEFGH", APIBase: stub.URL, Currency: "usd",
		TokenKeys: subtoken.Keys{{Secret: []byte("0123456789abcdef0123456789abcdef")}}, TokenTTL: time.Hour, HTTPTimeout: timeout})
	start := time.Now()
	_, err := s.Refund(context.Background(), RefundRequest{Charge: "ch_1", IdempotencyKey: "k"})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want the deadline", err)
	}
	t.Logf("answered after %s (timeout %s)", took.Round(time.Millisecond), timeout)
	// A call that waited out stripe-go's backoff (500 ms at least) would
	// have sent its retry before answering.
	if n := calls.Load(); n > 1 {
		t.Errorf("Stripe got %d requests before the answer, want at most 1", n)
	}
}
