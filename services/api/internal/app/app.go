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
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/api/internal/config"
	"github.com/stripeline/stripeline/services/api/internal/demo"
	"github.com/stripeline/stripeline/services/api/internal/httpapi"
	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// Run serves the api until ctx ends.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := logging.New(cfg.Log, "api", logOut)
	if err != nil {
		return err
	}
	logger.Info("settings", service.Effective(cfg)...)
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()
	reg := httpserver.NewRegistry()
	h, err := Handler(cfg, pool, reg, logger)
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
		TokenSecret: []byte(cfg.SubscriptionTokenSecret),
		TokenTTL:    cfg.SubscriptionTokenTTL,
		HTTPTimeout: cfg.StripeTimeout,
		Metrics:     stripeMetrics,
	})
	mux := http.NewServeMux()
	httpapi.New(mux, httpapi.Config{
		APIKeys:            cfg.APIKeys,
		PublishableKey:     cfg.StripePublishableKey,
		Currency:           cfg.Currency(),
		Currencies:         cfg.Currencies(),
		TokenSecret:        []byte(cfg.SubscriptionTokenSecret),
		EventsRequireToken: cfg.EventsRequireToken,
		Secrets:            []string{cfg.StripeSecretKey, cfg.SubscriptionTokenSecret},
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

// eventStore reads stripe_events through the pool.
type eventStore struct{ pool *pgxpool.Pool }

func (s eventStore) EventsByID(ctx context.Context, q pgstore.EventQuery) (pgstore.EventPage, error) {
	return pgstore.EventsByID(ctx, s.pool, q)
}
