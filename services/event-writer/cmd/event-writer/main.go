// Command event-writer stores every Stripe event from Kafka in PostgreSQL,
// exactly once per event id.
//
//	event-writer           consume and store (the default)
//	event-writer migrate   apply the database migrations and exit
//	event-writer replay --from earliest|<RFC 3339> [--to <RFC 3339>]
//	                       re-read the topic into the table and exit
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/stripeline/stripeline/services/event-writer/internal/app"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := config.Load(ctx)
	if err == nil {
		err = app.Main(ctx, cfg, os.Args[1:], os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "event-writer:", err)
		os.Exit(1)
	}
}
