// Package app wires the api's parts and runs them until the context ends.
package app

import (
	"context"
	"io"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/services/api/internal/config"
	"github.com/stripeline/stripeline/services/api/internal/httpapi"
	"github.com/stripeline/stripeline/services/api/internal/payments"
)

// Run serves the api until ctx ends.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := logging.New(cfg.Log, "api", logOut)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return err
	}
	defer pool.Close()

	svc := payments.New(payments.Config{
		SecretKey:   cfg.StripeSecretKey,
		APIBase:     cfg.StripeAPIBase,
		Currency:    cfg.Currency(),
		TokenSecret: []byte(cfg.SubscriptionTokenSecret),
		TokenTTL:    cfg.SubscriptionTokenTTL,
	})
	mux := http.NewServeMux()
	httpapi.New(mux, svc, logger)
	httpserver.Ops(mux, map[string]httpserver.Check{"database": pool.Ping})
	return httpserver.Serve(ctx, cfg.Addr, mux, cfg.ShutdownGrace, logger)
}
