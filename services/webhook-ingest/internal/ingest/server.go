package ingest

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/stripeline/stripeline/pkg/httpserver"
)

// Server timeouts. A webhook is a few KB; Stripe waits up to 30 s for an
// answer, and the handler answers within PublishTimeout.
const (
	readTimeout  = 10 * time.Second // a whole request, once its first byte came
	idleTimeout  = 2 * time.Minute  // a keep-alive connection between requests
	writeTimeout = 10 * time.Second
	// ReadBufferSize bounds a request's header (431 beyond it); Stripe's are
	// under 1 KB, proxies add a few lines.
	ReadBufferSize = 16 << 10
)

// NewServer serves h at Path and BackendlessPath and everything else with
// ops, a net/http handler (/healthz, /readyz, /metrics), through fasthttp's
// adaptor. A body over the handler's MaxBody is refused before it is read.
func NewServer(h *Handler, ops http.Handler, logger *slog.Logger) *fasthttp.Server {
	other := fasthttpadaptor.NewFastHTTPHandler(ops)
	return &fasthttp.Server{
		Handler: func(c *fasthttp.RequestCtx) {
			switch string(c.Path()) {
			case Path, BackendlessPath:
				h.Serve(c)
			default:
				other(c)
			}
		},
		ErrorHandler:          h.refuseUnread,
		MaxRequestBodySize:    int(h.cfg.MaxBody),
		ReadBufferSize:        ReadBufferSize,
		ReadTimeout:           readTimeout,
		IdleTimeout:           idleTimeout,
		WriteTimeout:          writeTimeout,
		NoDefaultServerHeader: true,
		CloseOnShutdown:       true,
		Logger:                fasthttpLogger{logger},
	}
}

// Serve serves srv on ln until ctx ends, then stops accepting and waits up
// to grace for the requests in flight (each answers within PublishTimeout).
func Serve(ctx context.Context, srv *fasthttp.Server, ln net.Listener, grace time.Duration, logger *slog.Logger) error {
	logger.Info("listening", "addr", ln.Addr().String())
	return httpserver.Run(ctx, func() error { return srv.Serve(ln) }, srv.ShutdownWithContext, grace)
}

// fasthttpLogger writes fasthttp's own messages (accept errors, …) as warnings.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Warn(fmt.Sprintf(format, args...), "component", "fasthttp")
}
