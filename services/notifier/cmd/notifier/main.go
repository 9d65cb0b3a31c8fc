// Command notifier pushes Stripe events from Kafka to the websocket clients
// subscribed to their transaction.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stripeline/stripeline/services/notifier/internal/app"
	"github.com/stripeline/stripeline/services/notifier/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(ctx)
	if err == nil {
		err = app.Run(ctx, cfg, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifier:", err)
		os.Exit(1)
	}
}
