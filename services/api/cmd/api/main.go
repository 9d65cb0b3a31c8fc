// Command api charges cards through Stripe and tells clients how to follow
// the payment over the notifier's websocket.
package main

import (
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/api/internal/app"
	"github.com/stripeline/stripeline/services/api/internal/config"
)

func main() {
	service.Main[config.Config]("api", app.Run)
}
