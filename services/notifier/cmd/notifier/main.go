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
	// which the GC pacer adds to the heap it lets grow before collecting: with
	// idle connections waiting outside gorilla, one costs about 7.4 KiB of RSS
	// at Go's default of 100 and 6.4–6.7 KiB at 50 (docs/notifier.md). GOGC
	// set in the environment wins.
	service.DefaultGCPercent(50)
	service.Main[config.Config]("notifier", app.Run)
}
