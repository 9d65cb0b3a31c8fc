// Package ws is the notifier's websocket port: the protocol of
// docs/design.md ("Websocket protocol") over gorilla/websocket. Each
// connection has one reader goroutine and, only while it has frames to send,
// one writer goroutine. gorilla is used through its public API only. What an
// idle connection costs is measured in docs/notifier.md ("Slow clients and
// connection resources").
package ws

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/clientaddr"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// Config is the websocket port's settings.
type Config struct {
	// RequireToken makes every subscription show a token for the ids it pins;
	// the subscription ends when the token expires, unless refreshed.
	RequireToken bool
	TokenKeys    subtoken.Keys
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

	// Limits on what one client may hold (limits.go). The per-address and
	// per-id limits are off at 0.
	MaxConnections           int // websockets served at once; the next is closed with 1013
	MaxConnectionsPerAddress int // websockets from one client address (clientaddr.Key)
	MaxConnectionsPerID      int // connections subscribed to one transaction id
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies     []netip.Prefix
	MaxSelectorValues  int   // values of a selector, all IN lists together
	MaxSelectorNodes   int   // conditions, AND, OR and NOT of a selector
	MaxConnectionBytes int64 // queued frames, subscriptions and selectors of one connection
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
	if c.MaxConnections <= 0 {
		c.MaxConnections = 17000
	}
	if c.MaxSelectorValues <= 0 {
		c.MaxSelectorValues = 100
	}
	if c.MaxSelectorNodes <= 0 {
		c.MaxSelectorNodes = 64
	}
	if c.MaxConnectionBytes <= 0 {
		c.MaxConnectionBytes = 256 << 10
	}
}

// Close codes beyond RFC 6455's (4000–4999 are for applications).
const (
	// CloseQueueOverflow: the client did not read fast enough; its send
	// queue overflowed (NOTIFIER_SEND_QUEUE frames, or
	// NOTIFIER_MAX_CONNECTION_BYTES) and it was disconnected. Reconnect and
	// resubscribe: the recent window replays what was missed.
	CloseQueueOverflow = 4008
	// CloseTooManyConnections: the client's address has
	// NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS connections already.
	CloseTooManyConnections = 4029
	// CloseTryAgainLater (RFC 6455's registry, 1013): this instance holds
	// NOTIFIER_HTTP_MAX_CONNECTIONS websockets; reconnect, to any instance.
	CloseTryAgainLater = 1013
)

// expiryTick is how often the subscriptions whose token ended are looked
// for; tokens expire in whole seconds.
const expiryTick = 250 * time.Millisecond

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

	perAddr  counts // connections per client address
	perID    counts // connections per pinned transaction id
	expiries expiries
	refused  refusals

	mu       sync.Mutex
	open     int // connections served or being upgraded (reserve)
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
		perAddr:  counts{max: cfg.MaxConnectionsPerAddress},
		perID:    counts{max: cfg.MaxConnectionsPerID},
	}
	s.upgrader = websocket.Upgrader{
		// Client frames are small: a small read buffer, through which larger
		// frames are read in pieces (gorilla documents that the buffer sizes
		// do not limit message sizes). Write buffers are lent from a pool only
		// while a frame is written: idle connections hold none.
		ReadBufferSize:   readBufferSize,
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
	addr := clientaddr.Key(clientaddr.Of(r, s.cfg.TrustedProxies))
	refusal, ok := s.reserve(addr)
	wsc, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		if ok {
			s.unreserve(addr)
		}
		s.wg.Done()
		// The upgrader already answered (a bad origin, not a websocket
		// handshake).
		s.refusals.Info("websocket connection refused", "reason", err.Error(), "remote_addr", r.RemoteAddr)
		return
	}
	if !ok {
		// Refused after the upgrade, with a close code: a browser sees
		// nothing of an HTTP status answered to a websocket handshake.
		s.refuse(wsc, refusal)
		return
	}
	c := &conn{srv: s, ws: wsc, addr: addr}
	s.mu.Lock()
	c.pingSlot, s.nextSlot = s.nextSlot, (s.nextSlot+1)%pingSlots
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	c.start() // the reader calls finish, which calls s.wg.Done
}

// reserve takes a place for a connection from addr, before the upgrade, so
// that two clients racing for the last place cannot both have it; else it
// names the limit that refuses it.
func (s *Server) reserve(addr string) (Limit, bool) {
	s.mu.Lock()
	full := s.open >= s.cfg.MaxConnections
	if !full {
		s.open++
	}
	s.mu.Unlock()
	switch {
	case full:
		return LimitConnections, false
	case !s.perAddr.acquire(addr):
		s.mu.Lock()
		s.open--
		s.mu.Unlock()
		return LimitConnectionsPerAddr, false
	}
	return 0, true
}

// unreserve gives back a place reserve took.
func (s *Server) unreserve(addr string) {
	s.perAddr.release(addr)
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
}

// refuse closes a websocket just upgraded with the close code of l and a
// reason naming its setting (at most 123 bytes, the close frame's room), and
// counts the refusal.
func (s *Server) refuse(wsc *websocket.Conn, l Limit) {
	code, reason := CloseTryAgainLater, "NOTIFIER_HTTP_MAX_CONNECTIONS: this instance is full ("+strconv.Itoa(s.cfg.MaxConnections)+"); try another"
	if l == LimitConnectionsPerAddr {
		code, reason = CloseTooManyConnections, "NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS: at most "+strconv.Itoa(s.cfg.MaxConnectionsPerAddress)+" from one address"
	}
	s.refused[l].Add(1)
	s.refusals.Info("websocket connection refused", "reason", reason, "remote_addr", wsc.RemoteAddr().String())
	_ = wsc.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(s.cfg.WriteTimeout))
	wsc.Close()
	s.wg.Done()
}

// Refused is how many requests or connections l refused.
func (s *Server) Refused(l Limit) int64 { return s.refused[l].Load() }

// readBufferSize is a connection's read buffer, in bytes: the frames
// clients send (subscribe, unsubscribe, ping) are a few hundred bytes at
// most. Our choice, not a figure of gorilla's: see docs/notifier.md, "Slow
// clients and connection resources".
const readBufferSize = 256

// pingSlots spread the pings over the interval: one slot of the connections
// is pinged at each of pingSlots ticks, so that 10,000 connections do not
// all wake a writer at the same moment and delay the deliveries behind them.
const pingSlots = 16

// Run pings every connection once each PingInterval and ends the
// subscriptions whose token expired, until ctx ends; it then sends every
// client a going-away close frame (1001), so it reconnects to another
// instance, and waits up to grace for the connections to end.
func (s *Server) Run(ctx context.Context, grace time.Duration) error {
	t := time.NewTicker(max(s.cfg.PingInterval/pingSlots, time.Millisecond))
	defer t.Stop()
	exp := time.NewTicker(expiryTick)
	defer exp.Stop()
	var slot uint8
	for {
		select {
		case now := <-exp.C:
			for _, sk := range s.expiries.due(now.Unix()) {
				sk.c.expire(sk, now)
			}
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
