// Command webhook-ingest verifies Stripe webhooks and puts them on Kafka,
// answering Stripe only once the broker has them.
package main

import (
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/app"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/config"
)

func main() {
	// Ingest's live heap is small (the requests in flight and the producer's
	// buffer) while it allocates a body and a message per webhook: at Go's
	// default of 100 it collects every few hundred requests. 400 trades a
	// few MB for less GC CPU (docs/decisions.md, "GOGC per service"). GOGC
	// set in the environment wins.
	service.DefaultGCPercent(400)
	service.Main[config.Config](help, app.Run)
}

// help is what -h and --help print above the settings.
var help = service.Help{
	Name:  "webhook-ingest",
	About: "verifies Stripe webhooks and puts them on Kafka, answering Stripe only once the broker has them.",
}
