// Package ws is the notifier's websocket port: the protocol of
// docs/design.md ("Websocket protocol") over gorilla/websocket. Each
// connection has one reader goroutine and, only while it has frames to send,
// one writer goroutine; an idle connection's reader is a waiter that stays
// within Go's initial goroutine stack (conn.go). What an idle connection
// costs is measured in docs/notifier.md ("Slow clients and connection
// resources").
package ws

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// Config is the websocket port's settings.
type Config struct {
	// RequireToken makes every subscription show a token for the ids it pins.
	RequireToken bool
	TokenSecret  []byte
	// AllowedOrigins are the browser origins ("https://shop.example") that may
	// connect; "*" allows any. Empty allows same-host browsers only. Requests
	// without an Origin header (not from a browser) are always allowed.
	AllowedOrigins []string

	QueueSize        int           // frames waiting for a slow client before it is dropped
	WriteTimeout     time.Duration // deadline of every write
	PingInterval     time.Duration // keep-alive; a client silent for two intervals is dropped
	MaxFrame         int64         // largest frame a client may send, bytes
	MaxSubscriptions int           // per connection
	MaxUnpinned      int           // per connection: subscriptions evaluated against every event
	// Tracer, when set, records each event's delivery to each subscription
	// as a span of the event's trace (trace.go); nil records none.
	Tracer trace.Tracer
	// Metrics are where deliveries are counted; nil counts on a registry
	// of its own that nothing serves.
	Metrics *Metrics
}

func (c *Config) setDefaults() {
	if c.Metrics == nil {
		c.Metrics, _ = NewMetrics(prometheus.NewRegistry()) // a fresh registry never conflicts
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 256
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.MaxFrame <= 0 {
		c.MaxFrame = 4096
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 100
	}
	if c.MaxUnpinned < 0 {
		c.MaxUnpinned = 0
	}
}

// Close codes beyond RFC 6455's (4000–4999 are for applications).
const (
	// CloseQueueOverflow: the client did not read fast enough; its send
	// queue overflowed and it was disconnected. Reconnect and resubscribe:
	// the recent window replays what was missed.
	CloseQueueOverflow = 4008
)

// closeGrace is how long a connection waits for the client's close frame
// after sending its own, before it drops the TCP connection.
const closeGrace = time.Second

// Server accepts websocket connections on /ws.
type Server struct {
	cfg    Config
	hub    *hub.Hub
	logger *slog.Logger
	// refusals logs refused connections and frames at info, a line repeated
	// within refusalLogEvery written once (logging.RateLimited).
	refusals *slog.Logger
	upgrader websocket.Upgrader

	mu       sync.Mutex
	conns    map[*conn]struct{}
	nextSlot uint8 // the ping slot of the next connection
	draining bool
	wg       sync.WaitGroup
}

// refusalLogEvery is how often one kind of refusal may be logged.
const refusalLogEvery = 10 * time.Second

// NewServer builds the websocket server.
func NewServer(cfg Config, h *hub.Hub, logger *slog.Logger) *Server {
	cfg.setDefaults()
	s := &Server{
		cfg:      cfg,
		hub:      h,
		logger:   logger,
		refusals: slog.New(logging.RateLimited(logger.Handler(), refusalLogEvery)),
		conns:    map[*conn]struct{}{},
	}
	s.upgrader = websocket.Upgrader{
		// The read buffer is ours, readBufferSize bytes (see hijacker): 0
		// here is what makes gorilla use it. Write buffers are lent from a
		// pool only while a frame is written: idle connections hold none.
		ReadBufferSize:   0,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      s.checkOrigin,
	}
	return s
}

func (s *Server) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // not a browser: the token is the authorization
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	return slices.ContainsFunc(s.cfg.AllowedOrigins, func(o string) bool {
		return o == "*" || strings.EqualFold(o, origin)
	})
}

// ServeHTTP upgrades the request and hands the connection to a reader
// goroutine of its own. Returning lets net/http's serving goroutine end and
// free what it holds for the request (its bufio reader and writers, a stack
// grown by the handshake), which would otherwise be kept for the life of
// every connection (docs/notifier.md, "Slow clients and connection
// resources").
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	draining := s.draining
	if !draining {
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if draining {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	hw := &hijacker{ResponseWriter: w}
	wsc, err := s.upgrader.Upgrade(hw, r, nil)
	if err != nil {
		s.wg.Done()
		// The upgrader already answered (a bad origin, not a websocket
		// handshake).
		s.refusals.Info("websocket connection refused", "reason", err.Error(), "remote_addr", r.RemoteAddr)
		return
	}
	c := &conn{srv: s, ws: wsc}
	if hw.br != nil {
		c.br, c.raw = hw.br, waitable(wsc.NetConn())
	}
	s.mu.Lock()
	c.pingSlot, s.nextSlot = s.nextSlot, (s.nextSlot+1)%pingSlots
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.start() // the reader calls finish, which calls s.wg.Done
}

// readBufferSize is a connection's read buffer: client frames are small,
// larger ones are read through it in pieces. gorilla v1.5.3 (server.go,
// Upgrade) reads through the hijacked bufio.Reader when the Upgrader's
// ReadBufferSize is 0 and that reader's buffer is over 256 bytes; 288 is the
// malloc size class after 256.
const readBufferSize = 288

// hijacker is the ResponseWriter handed to the upgrader, which asks for an
// http.Hijacker by type assertion. Its Hijack hands gorilla a bufio.Reader
// of ours, so the connection can ask it how many bytes gorilla has buffered
// and not yet parsed (conn.idle). net/http's own 4 KB reader and the writer
// (which gorilla uses only to find a buffer for the handshake response) are
// dropped as before. When net/http's reader already holds bytes (the client
// wrote before the handshake's answer), it is handed back as it is, and
// gorilla refuses the connection as it always has.
type hijacker struct {
	http.ResponseWriter
	br *bufio.Reader // ours, once hijacked
}

func (h *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err
	}
	h.br = bufio.NewReaderSize(nc, readBufferSize)
	return nc, bufio.NewReadWriter(h.br, brw.Writer), nil
}

// pingSlots spread the pings over the interval: one slot of the connections
// is pinged at each of pingSlots ticks, so that 10,000 connections do not
// all wake a writer at the same moment and delay the deliveries behind them.
const pingSlots = 16

// Run pings every connection once each PingInterval until ctx ends, then
// sends every client a going-away close frame (1001), so it reconnects to
// another instance, and waits up to grace for the connections to end.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	t := time.NewTicker(max(s.cfg.PingInterval/pingSlots, time.Millisecond))
	defer t.Stop()
	var slot uint8
	for {
		select {
		case <-t.C:
			for _, c := range s.snapshot() {
				if c.pingSlot == slot {
					c.ping()
				}
			}
			slot = (slot + 1) % pingSlots
		case <-ctx.Done():
			s.shutdown(grace)
			return nil
		}
	}
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

func (s *Server) shutdown(grace time.Duration) {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
	conns := s.snapshot()
	for _, c := range conns {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		s.logger.Info("websocket clients closed", "connections", len(conns))
	case <-time.After(grace):
		s.logger.Warn("websocket clients still open at the end of the grace", "connections", len(s.snapshot()))
	}
}

// Connections is the number of open connections.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
