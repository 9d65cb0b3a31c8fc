// Command notifier pushes Stripe events from Kafka to the websocket clients
// subscribed to their transaction.
package main

import (
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/notifier/internal/app"
	"github.com/stripeline/stripeline/services/notifier/internal/config"
)

func main() {
	// A notifier's memory is mostly goroutine stacks and connection state,
	// which the GC pacer adds to the heap it lets grow before collecting, so a
	// lower GOGC keeps an idle connection's RSS lower than Go's default of 100
	// does (measured in docs/notifier.md, "Slow clients and connection
	// resources"). GOGC set in the environment wins.
	service.DefaultGCPercent(50)
	service.Main[config.Config](help, app.Run)
}

// help is what -h and --help print above the settings.
var help = service.Help{
	Name:  "notifier",
	About: "pushes Stripe events from Kafka to the websocket clients subscribed to their transaction.",
}
