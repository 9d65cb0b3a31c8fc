package payments

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stripe/stripe-go/v76"
)

// Calls and outcomes of stripeline_api_stripe_seconds.
const (
	CallCharge        = "charge"
	CallPaymentIntent = "payment_intent"
	CallConfirm       = "confirm" // of a PaymentIntent, with a PaymentMethod
	CallRefund        = "refund"
	CallCapture       = "capture" // of a charge or a PaymentIntent
	CallCancel        = "cancel"  // of a charge or a PaymentIntent

	OutcomeOK          = "ok"
	OutcomeCardError   = "card_error"   // declined, or a card Stripe refuses
	OutcomeStripeError = "stripe_error" // any other answer of Stripe's that is an error
	OutcomeTimeout     = "timeout"      // no answer within STRIPE_TIMEOUT
	OutcomeUnavailable = "unavailable"  // the network failed, or the answer was not Stripe's
	OutcomeCanceled    = "canceled"     // the client went away first
)

var (
	calls    = []string{CallCharge, CallPaymentIntent, CallConfirm, CallRefund, CallCapture, CallCancel}
	outcomes = []string{OutcomeOK, OutcomeCardError, OutcomeStripeError, OutcomeTimeout, OutcomeUnavailable, OutcomeCanceled}
)

// Metrics are the Stripe calls' series.
type Metrics struct {
	StripeSeconds *prometheus.HistogramVec
	TokensIssued  prometheus.Counter
}

// NewMetrics registers the series on reg, the api's registry.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		StripeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "stripeline_api_stripe_seconds",
			Help: "Time of one call to Stripe (its retry included), by call and outcome: ok, card_error, stripe_error, timeout, unavailable, canceled.",
			// 10 ms to about 40 s: past the default STRIPE_TIMEOUT of 30 s.
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 13),
		}, []string{"call", "outcome"}),
		TokensIssued: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stripeline_api_tokens_issued_total",
			Help: "Subscription tokens issued, one with every payment Stripe accepted.",
		}),
	}
	for _, c := range []prometheus.Collector{m.StripeSeconds, m.TokensIssued} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, c := range calls {
		for _, o := range outcomes {
			m.StripeSeconds.WithLabelValues(c, o)
		}
	}
	return m, nil
}

// observe records one call of took that ended in err.
func (m *Metrics) observe(call string, took time.Duration, err error) {
	m.StripeSeconds.WithLabelValues(call, Outcome(err)).Observe(took.Seconds())
}

// Outcome is the outcome label of a Stripe call that returned err.
func Outcome(err error) string {
	var se *stripe.Error
	switch {
	case err == nil:
		return OutcomeOK
	case errors.As(err, &se) && se.Type == stripe.ErrorTypeCard:
		return OutcomeCardError
	case errors.As(err, &se), errors.Is(err, ErrCaptured):
		return OutcomeStripeError
	case TimedOut(err):
		return OutcomeTimeout
	case errors.Is(err, context.Canceled):
		return OutcomeCanceled
	default:
		return OutcomeUnavailable
	}
}

// TimedOut reports whether a call failed for want of an answer in time.
func TimedOut(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
