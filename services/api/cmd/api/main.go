// Command api charges cards through Stripe and tells clients how to follow
// the payment over the notifier's websocket.
package main

import (
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/api/internal/app"
	"github.com/stripeline/stripeline/services/api/internal/config"
)

func main() {
	service.Main[config.Config](help, app.Run)
}

// help is what -h and --help print above the settings.
var help = service.Help{
	Name:  "api",
	About: "charges cards through Stripe and tells clients how to follow the payment over the notifier's websocket.",
}
