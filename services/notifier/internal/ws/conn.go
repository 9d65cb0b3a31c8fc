// Package ws is the notifier's websocket port: the protocol of DESIGN.md,
// one reader and one writer goroutine per connection.
package ws

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// Config is the websocket port's settings.
type Config struct {
	RequireToken bool
	TokenSecret  []byte
	QueueSize    int           // frames waiting for a slow client before it is dropped
	WriteTimeout time.Duration // deadline of every write
	PingInterval time.Duration
	MaxFrame     int64 // largest frame a client may send
}

func (c *Config) setDefaults() {
	if c.QueueSize == 0 {
		c.QueueSize = 256
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 30 * time.Second
	}
	if c.MaxFrame == 0 {
		c.MaxFrame = 4096
	}
}

// Close codes beyond RFC 6455's.
const (
	CloseQueueOverflow = 4008 // the client did not read fast enough
)

// Server accepts websocket connections on /ws.
type Server struct {
	cfg      Config
	hub      *hub.Hub
	logger   *slog.Logger
	upgrader websocket.Upgrader

	mu    sync.Mutex
	conns map[*conn]struct{}
	wg    sync.WaitGroup
}

// NewServer builds the websocket server.
func NewServer(cfg Config, h *hub.Hub, logger *slog.Logger) *Server {
	cfg.setDefaults()
	return &Server{
		cfg:    cfg,
		hub:    h,
		logger: logger,
		upgrader: websocket.Upgrader{
			ReadBufferSize:  1024,
			WriteBufferSize: 1024,
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		conns: map[*conn]struct{}{},
	}
}

// ServeHTTP upgrades the request and serves the connection.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	wsc, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader already answered
	}
	c := &conn{
		srv:   s,
		ws:    wsc,
		queue: make(chan []byte, s.cfg.QueueSize),
		quit:  make(chan struct{}),
		subs:  map[string]*hub.Subscription{},
	}
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go c.writeLoop()
	c.readLoop()
}

// Shutdown sends every client a going-away close frame, so it reconnects to
// another instance, and waits for the connections to end or ctx.
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	for c := range s.conns {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

type conn struct {
	srv   *Server
	ws    *websocket.Conn
	queue chan []byte
	quit  chan struct{}

	closeOnce sync.Once
	closeCode int
	closeMsg  string

	mu     sync.Mutex
	subs   map[string]*hub.Subscription
	nextID atomic.Int64
}

// Deliver queues ev for the client; a client whose queue is full is dropped.
func (c *conn) Deliver(sub *hub.Subscription, ev *hub.Event) {
	b, err := json.Marshal(messageFrame{Type: "message", Subscription: sub.ID, Channel: sub.Channel, Headers: ev.Headers, Data: ev.Raw})
	if err != nil {
		return
	}
	c.send(b)
}

func (c *conn) send(b []byte) {
	select {
	case <-c.quit:
	case c.queue <- b:
	default:
		c.close(CloseQueueOverflow, "client too slow: send queue overflow")
	}
}

func (c *conn) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		c.send(b)
	}
}

// close asks the writer to send a close frame and end the connection.
func (c *conn) close(code int, msg string) {
	c.closeOnce.Do(func() {
		c.closeCode, c.closeMsg = code, msg
		close(c.quit)
	})
}

func (c *conn) readLoop() {
	defer func() {
		c.mu.Lock()
		for _, s := range c.subs {
			c.srv.hub.Remove(s)
		}
		c.subs = nil
		c.mu.Unlock()
		c.close(websocket.CloseNormalClosure, "")
	}()
	c.ws.SetReadLimit(c.srv.cfg.MaxFrame)
	pongWait := 2 * c.srv.cfg.PingInterval
	_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
	c.ws.SetPongHandler(func(string) error { return c.ws.SetReadDeadline(time.Now().Add(pongWait)) })
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.close(websocket.CloseMessageTooBig, "frame over the size limit")
			}
			return
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(pongWait))
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.sendJSON(errorFrame{"error", "bad_request", "frame is not a JSON object: " + err.Error()})
			continue
		}
		c.handle(f)
	}
}

func (c *conn) handle(f clientFrame) {
	switch f.Type {
	case "subscribe":
		id, ef := target(f)
		if ef != nil {
			c.sendJSON(ef)
			return
		}
		if c.srv.cfg.RequireToken {
			if err := subtoken.Verify(c.srv.cfg.TokenSecret, f.Token, id, time.Now()); err != nil {
				c.sendJSON(errorFrame{"error", "unauthorized", err.Error()})
				return
			}
		}
		s := &hub.Subscription{ID: "s" + strconv.FormatInt(c.nextID.Add(1), 10), Channel: f.Channel, IDs: []string{id}, Sink: c}
		c.mu.Lock()
		if c.subs == nil { // connection ending
			c.mu.Unlock()
			return
		}
		c.subs[s.ID] = s
		c.mu.Unlock()
		c.sendJSON(subscribedFrame{"subscribed", s.ID})
		c.srv.hub.Add(s)
	case "unsubscribe":
		c.mu.Lock()
		s := c.subs[f.Subscription]
		delete(c.subs, f.Subscription)
		c.mu.Unlock()
		if s == nil {
			c.sendJSON(errorFrame{"error", "unknown_subscription", "no subscription " + strconv.Quote(f.Subscription) + " on this connection"})
			return
		}
		c.srv.hub.Remove(s)
		c.sendJSON(unsubscribedFrame{"unsubscribed", s.ID})
	default:
		c.sendJSON(errorFrame{"error", "bad_request", "type must be subscribe or unsubscribe"})
	}
}

// writeLoop is the only goroutine that writes to the socket.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	defer func() {
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		c.ws.Close()
	}()
	ping := time.NewTicker(c.srv.cfg.PingInterval)
	defer ping.Stop()
	for {
		select {
		case b := <-c.queue:
			_ = c.ws.SetWriteDeadline(time.Now().Add(c.srv.cfg.WriteTimeout))
			if err := c.ws.WriteMessage(websocket.TextMessage, b); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.srv.cfg.WriteTimeout)); err != nil {
				c.close(websocket.CloseAbnormalClosure, "")
				return
			}
		case <-c.quit:
			if c.closeCode != websocket.CloseAbnormalClosure {
				_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, c.closeMsg), time.Now().Add(time.Second))
			}
			return
		}
	}
}
