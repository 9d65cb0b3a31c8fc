// Command event-writer stores every Stripe event from Kafka in PostgreSQL,
// exactly once per event id.
//
//	event-writer           consume and store (the default)
//	event-writer migrate   apply the database migrations and exit
//	event-writer replay --from earliest|<RFC 3339> [--to <RFC 3339>]
//	                       re-read the topic into the table and exit
//	event-writer redrive [--reason R] [--from <RFC 3339>] [--dry-run]
//	                       send poison messages back to the topic and exit
//	                       (docs/design.md, "Poison topic")
package main

import (
	"context"
	"io"
	"os"

	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/event-writer/internal/app"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
)

func main() {
	service.Main[config.Config](help, func(ctx context.Context, cfg config.Config, logOut io.Writer) error {
		if len(os.Args) > 1 {
			return app.Command(ctx, cfg, os.Args[1:], logOut)
		}
		return app.Run(ctx, cfg, logOut)
	})
}

// help is what -h and --help print above the settings.
var help = service.Help{
	Name:     "event-writer",
	About:    "stores every Stripe event from Kafka in PostgreSQL, exactly once per event id.",
	Commands: app.Usage(),
}
