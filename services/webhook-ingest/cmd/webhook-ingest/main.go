// Command webhook-ingest verifies Stripe webhooks and puts them on Kafka,
// answering Stripe only once the broker has them.
package main

import (
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/app"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/config"
)

func main() {
	service.Main[config.Config]("webhook-ingest", app.Run)
}
