// Command webhook-ingest verifies Stripe webhooks and puts them on Kafka,
// answering Stripe only once the broker has them.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stripeline/stripeline/services/webhook-ingest/internal/app"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(ctx)
	if err == nil {
		err = app.Run(ctx, cfg, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook-ingest:", err)
		os.Exit(1)
	}
}
