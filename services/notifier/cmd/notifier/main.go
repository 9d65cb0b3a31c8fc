// Command notifier pushes Stripe events from Kafka to the websocket clients
// subscribed to their transaction.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/stripeline/stripeline/services/notifier/internal/app"
	"github.com/stripeline/stripeline/services/notifier/internal/config"
)

func main() {
	// A notifier's memory is mostly goroutine stacks and connection state,
	// which the GC pacer adds to the heap it lets grow before collecting: at
	// Go's default of 100 an idle connection costs 11–14 KB of RSS, at 50
	// about 8.5 KB (docs/notifier.md). GOGC set in the environment wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
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
