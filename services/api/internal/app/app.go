// Package app wires the api's parts and runs them until the context ends.
package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/services/api/internal/config"
	"github.com/stripeline/stripeline/services/api/internal/demo"
	"github.com/stripeline/stripeline/services/api/internal/httpapi"
	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// Run serves the api until ctx ends.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := service.Logger(cfg, cfg.Log, "api", logOut)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	// The api serves without its database (charges need none); the wait
	// only says so in the log, once, and again when it answers. /readyz
	// reports it meanwhile.
	go func() { _ = service.WaitFor(ctx, logger, "database", pool.Ping) }()
	tr, err := tracing.New(ctx, cfg.Tracing, "api")
	if err != nil {
		return err
	}
	defer tracing.ShutdownWithin(tr, cfg.ShutdownGrace, logger)
	reg := httpserver.NewRegistry()
	h, err := handler(cfg, pool, reg, logger, tr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	return httpserver.ServeWithOps(ctx, ln, h, cfg.Limits(), cfg.OpsAddr, Ops(pool, reg, logger), cfg.ShutdownGrace, logger)
}

// Ops is the api's ops port (API_OPS_ADDR): /healthz, /readyz (the
// database) and /metrics, what metrics gathers (the registry Handler
// registered on).
func Ops(pool *pgxpool.Pool, metrics prometheus.Gatherer, logger *slog.Logger) http.Handler {
	return httpserver.OpsHandler(map[string]httpserver.Check{"database": pool.Ping}, metrics, logger)
}

// Handler is the api's public HTTP surface: its routes, a bare /healthz,
// CORS. Its metrics are registered on reg; /readyz and /metrics are on the
// ops port (Ops).
func Handler(cfg config.Config, pool *pgxpool.Pool, reg prometheus.Registerer, logger *slog.Logger) (http.Handler, error) {
	return handler(cfg, pool, reg, logger, nil)
}

// handler is Handler with tracing: each call to Stripe a trace of its own.
func handler(cfg config.Config, pool *pgxpool.Pool, reg prometheus.Registerer, logger *slog.Logger, tr *tracing.Tracing) (http.Handler, error) {
	routeMetrics, err := httpapi.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	stripeMetrics, err := payments.NewMetrics(reg)
	if err != nil {
		return nil, err
	}
	if len(cfg.APIKeys) == 0 {
		logger.Warn("API_KEYS is empty: API-key authentication is OFF, anyone who reaches this port can charge and read events; set API_KEYS")
	}
	svc := payments.New(payments.Config{
		SecretKey:   cfg.StripeSecretKey,
		APIBase:     cfg.StripeAPIBase,
		Currency:    cfg.Currency(),
		TokenKeys:   cfg.TokenKeys(),
		TokenTTL:    cfg.SubscriptionTokenTTL,
		HTTPTimeout: cfg.StripeTimeout,
		Metrics:     stripeMetrics,
		Tracer:      tr.Tracer("api"),
		Transport:   tr.Transport(nil),
	})
	mux := http.NewServeMux()
	httpapi.New(mux, httpapi.Config{
		APIKeys:            cfg.APIKeys,
		AdminKeys:          cfg.AdminAPIKeys,
		PublishableKey:     cfg.StripePublishableKey,
		Currency:           cfg.Currency(),
		Currencies:         cfg.Currencies(),
		TokenKeys:          cfg.TokenKeys(),
		EventsRequireToken: cfg.EventsRequireToken,
		Secrets:            append(append([]string{cfg.StripeSecretKey}, tokenSecrets(cfg.TokenKeys())...), cfg.AdminAPIKeys...),
		PerKey:             httpapi.RateLimit{Rate: cfg.RatePerKey, Burst: cfg.RatePerKeyBurst},
		PerAddr:            httpapi.RateLimit{Rate: cfg.RatePerAddr, Burst: cfg.RatePerAddrBurst},
		TrustedProxies:     cfg.TrustedProxyPrefixes(),
		Metrics:            routeMetrics,
	}, svc, eventStore{pool}, logger)
	httpserver.Health(mux)
	if cfg.Demo {
		demo.Register(mux, demo.Config{NotifierURL: cfg.DemoNotifierURL})
		logger.Info("demo checkout page served at /demo/ (API_DEMO=true)", "notifier_url", cfg.DemoNotifierURL)
	}
	return httpapi.CORS(cfg.CORSOrigins, mux), nil
}

// eventStore reads stripe_events and stripe_objects through the pool.
type eventStore struct{ pool *pgxpool.Pool }

func (s eventStore) EventsByID(ctx context.Context, q pgstore.EventQuery) (pgstore.EventPage, error) {
	return pgstore.EventsByID(ctx, s.pool, q)
}

// tokenSecrets are the secrets of keys, which no answer or log may show.
func tokenSecrets(keys subtoken.Keys) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = string(k.Secret)
	}
	return out
}

func (s eventStore) ObjectByID(ctx context.Context, id string) (pgstore.Object, error) {
	return pgstore.ObjectByID(ctx, s.pool, id)
}

func (s eventStore) Timeline(ctx context.Context, id string, limit int) ([]pgstore.TimelineEntry, bool, error) {
	return pgstore.Timeline(ctx, s.pool, id, limit)
}
