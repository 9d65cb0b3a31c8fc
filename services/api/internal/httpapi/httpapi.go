// Package httpapi is the api's HTTP port: routes, request decoding and
// validation, API-key authentication, CORS, and the one place where errors
// become HTTP statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// Payments is what the payment routes need from the use cases.
type Payments interface {
	Charge(ctx context.Context, req payments.ChargeRequest) (payments.Result, error)
	CreatePaymentIntent(ctx context.Context, req payments.PaymentIntentRequest) (payments.Result, error)
	ConfirmPaymentIntent(ctx context.Context, req payments.ConfirmRequest) (payments.Result, error)
	RenewSubscription(id, token string) (payments.Subscribe, error)
	Refund(ctx context.Context, req payments.RefundRequest) (payments.Result, error)
	CaptureCharge(ctx context.Context, req payments.CaptureRequest) (payments.Result, error)
	CapturePaymentIntent(ctx context.Context, req payments.CaptureRequest) (payments.Result, error)
	CancelCharge(ctx context.Context, req payments.CancelRequest) (payments.Result, error)
	CancelPaymentIntent(ctx context.Context, req payments.CancelRequest) (payments.Result, error)
}

// Events reads the stored Stripe events of one transaction, and the
// current state of its objects.
type Events interface {
	EventsByID(ctx context.Context, q pgstore.EventQuery) (pgstore.EventPage, error)
	// ObjectByID is pgstore.ErrNotFound for an id with no state.
	ObjectByID(ctx context.Context, id string) (pgstore.Object, error)
	Timeline(ctx context.Context, id string, limit int) ([]pgstore.TimelineEntry, bool, error)
}

// Config is what the routes need besides their ports.
type Config struct {
	// APIKeys are the keys a client may present; empty turns the check off.
	APIKeys []string
	// AdminKeys are the shop servers' keys, the only ones the admin routes
	// (refunds, capture, cancel) take, in X-API-Key only; empty refuses
	// every request to those routes.
	AdminKeys      []string
	PublishableKey string
	Currency       string   // the default, lower case
	Currencies     []string // the allow-list, lower case; includes Currency
	// TokenKeys verify subscription tokens on GET /Stripe/events when
	// EventsRequireToken is set.
	TokenKeys          subtoken.Keys
	EventsRequireToken bool
	// Secrets are values no response or log line may contain, not even in
	// part (the Stripe secret key).
	Secrets []string
	// PerKey and PerAddr limit the payment routes per API key and per client
	// address (card testing); TrustedProxies are the peers whose
	// X-Forwarded-For names the client.
	PerKey, PerAddr RateLimit
	TrustedProxies  []netip.Prefix
	// Metrics are where requests are counted; nil counts on a registry of
	// its own that nothing serves.
	Metrics *Metrics
}

// Handler serves the api's routes.
type Handler struct {
	cfg      Config
	payments Payments
	events   Events
	keys     keyring
	admins   keyring
	perKey   *limiterSet // nil: no limit
	perAddr  *limiterSet
	scrub    scrubber
	// idemScope keys the HMAC that scopes clients' Idempotency-Keys.
	idemScope []byte
	metrics   *Metrics
	logger    *slog.Logger
}

// prefixes are the seed's URL shapes: plain, Backendless's service path,
// and the Backendless path with the app id and API key in it.
var prefixes = []string{"", "/api/services", "/{appID}/{apiKey}/services"}

// route is one operation, served under every prefix unless admin.
type route struct {
	method  string
	path    string // below the prefix
	public  bool   // no API key needed
	limited bool   // rate-limited per key and address: it makes a charge
	// admin routes move money back or settle an authorization: they take an
	// admin key in the header only, and are served only without a prefix,
	// so that no URL shape carries a key to them (docs/api.md).
	admin bool
	serve func(*Handler, http.ResponseWriter, *http.Request)
}

var routes = []route{
	{method: http.MethodPost, path: "/Stripe/charge", limited: true, serve: (*Handler).charge},
	{method: http.MethodPost, path: "/Stripe/payment-intents", limited: true, serve: (*Handler).paymentIntent},
	{method: http.MethodPost, path: "/Stripe/payment-intents/{id}/confirm", limited: true, serve: (*Handler).confirmPaymentIntent},
	{method: http.MethodGet, path: "/Stripe/config", public: true, serve: (*Handler).config},
	{method: http.MethodGet, path: "/Stripe/events", serve: (*Handler).listEvents},
	{method: http.MethodPost, path: "/Stripe/subscription-tokens", serve: (*Handler).renewToken},
	{method: http.MethodGet, path: "/Stripe/transactions/{id}", serve: (*Handler).transaction},
	{method: http.MethodPost, path: "/Stripe/refunds", admin: true, serve: (*Handler).refund},
	{method: http.MethodPost, path: "/Stripe/charges/{id}/capture", admin: true, serve: (*Handler).captureCharge},
	{method: http.MethodPost, path: "/Stripe/charges/{id}/cancel", admin: true, serve: (*Handler).cancelCharge},
	{method: http.MethodPost, path: "/Stripe/payment-intents/{id}/capture", admin: true, serve: (*Handler).capturePaymentIntent},
	{method: http.MethodPost, path: "/Stripe/payment-intents/{id}/cancel", admin: true, serve: (*Handler).cancelPaymentIntent},
}

// served reports whether rt is served under prefix.
func (rt route) served(prefix string) bool { return !rt.admin || prefix == "" }

// Patterns lists every "METHOD /path" pattern New registers.
func Patterns() []string {
	var out []string
	for _, p := range prefixes {
		for _, rt := range routes {
			if rt.served(p) {
				out = append(out, rt.method+" "+p+rt.path)
			}
		}
	}
	return out
}

// New registers the api's routes on mux.
func New(mux *http.ServeMux, cfg Config, p Payments, ev Events, logger *slog.Logger) *Handler {
	if cfg.Metrics == nil {
		cfg.Metrics, _ = NewMetrics(prometheus.NewRegistry()) // a fresh registry never conflicts
	}
	h := &Handler{
		metrics: cfg.Metrics,
		cfg:     cfg, payments: p, events: ev, logger: logger,
		keys: newKeyring(cfg.APIKeys), admins: newKeyring(cfg.AdminKeys), scrub: newScrubber(cfg.Secrets),
		idemScope: idempotencyScope(cfg.TokenKeys),
		perKey:    newLimiterSet(cfg.PerKey, maxLimiters), perAddr: newLimiterSet(cfg.PerAddr, maxLimiters),
	}
	for _, prefix := range prefixes {
		for _, rt := range routes {
			if !rt.served(prefix) {
				continue
			}
			serve := func(w http.ResponseWriter, r *http.Request) { rt.serve(h, w, r) }
			if rt.limited {
				serve = h.limited(serve)
			}
			switch {
			case rt.admin:
				serve = h.adminOnly(serve)
			case !rt.public:
				serve = h.authenticated(serve)
			}
			mux.HandleFunc(rt.method+" "+prefix+rt.path, h.metrics.instrumented(serve))
		}
	}
	return h
}
