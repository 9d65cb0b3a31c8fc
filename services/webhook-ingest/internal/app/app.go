// Package app wires webhook-ingest's parts and runs them until the context ends.
package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/pkg/summary"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/config"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/ingest"
)

// readyInterval is how often the readiness check dials the brokers, and
// readyTimeout bounds one round.
const (
	readyInterval = 5 * time.Second
	readyTimeout  = 2 * time.Second
)

// Run serves webhook-ingest until ctx ends: the webhook routes on
// WEBHOOK_INGEST_ADDR, the ops endpoints on WEBHOOK_INGEST_OPS_ADDR.
func Run(ctx context.Context, cfg config.Config, logOut io.Writer) error {
	logger, err := service.Logger(cfg, cfg.Log, "webhook-ingest", logOut)
	if err != nil {
		return err
	}
	tr, err := tracing.New(ctx, cfg.Tracing, "webhook-ingest")
	if err != nil {
		return err
	}
	// Last: the spans of the requests drained on shutdown are exported.
	defer tracing.ShutdownWithin(tr, cfg.ShutdownGrace, logger)
	// Without a broker yet, ingest serves, answers 503 and reports not
	// ready while the publisher keeps connecting.
	pub := kafka.Connect(ctx, kafka.PublisherConfig{
		Brokers:         cfg.Kafka.Brokers,
		ClientID:        "webhook-ingest",
		MaxMessageBytes: cfg.KafkaMaxMessageBytes,
		Tracing:         tr.Provider(),
	}, logging.Watermill(logger), logger)
	// Closed after the server has drained its in-flight requests.
	defer pub.Close()
	reg := httpserver.NewRegistry()
	metrics, err := ingest.NewMetrics(reg)
	if err != nil {
		return err
	}
	h := ingest.New(ingest.Config{
		Topic:          cfg.Kafka.Topic,
		Secrets:        cfg.WebhookSecrets,
		Tolerance:      cfg.Tolerance,
		MaxBody:        cfg.MaxBody,
		PublishTimeout: cfg.PublishTimeout,
	}, pub, metrics, logger)
	// Readiness dials the brokers every readyInterval in the background,
	// not once per /readyz.
	ops := httpserver.OpsHandler(map[string]httpserver.Check{
		"publisher": pub.Ready,
		"kafka": httpserver.Polled(ctx, readyInterval, readyTimeout, func(ctx context.Context) error {
			return kafka.Reachable(ctx, cfg.Kafka.Brokers)
		}),
	}, reg, logger)
	public := http.NewServeMux()
	httpserver.Health(public)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	// What ingest answered, once a minute (pkg/summary).
	go summary.Run(ctx, logger, reg, time.Minute, "stripeline_webhook_requests_total")
	return httpserver.ServeWithOps(ctx, ln, ingest.Routes(tr.Handler(h, "webhook"), public), cfg.Limits(), cfg.OpsAddr, ops, cfg.ShutdownGrace, logger)
}
