package ws

import (
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// conn is one client connection. Its subscriptions are in subscriptions.go,
// the send queue in writer.go.
type conn struct {
	srv  *Server
	ws   *websocket.Conn
	out  sendQueue
	addr string // the client's address (clientaddr.Key), counted in the server's perAddr

	// mu guards subs and unpinned: the reader changes them, and so does the
	// server's expiry sweep (a token ending).
	mu       sync.Mutex
	subs     []*hub.Subscription // a handful at most: a slice is smaller than a map
	unpinned int
	// held is the bytes the subscriptions and their selectors hold; the
	// send queue counts its frames (NOTIFIER_MAX_CONNECTION_BYTES bounds both).
	held atomic.Int64

	nextID   int   // the reader's own
	pingSlot uint8 // which of the server's ping ticks pings this connection
}

// start sets the connection up and starts its reader. A client's ping is
// answered by gorilla's default handler (a pong with the ping's payload).
func (c *conn) start() {
	c.ws.SetReadLimit(c.srv.cfg.MaxFrame)
	_ = c.extendDeadline()
	c.ws.SetPongHandler(func(string) error { return c.extendDeadline() })
	// The client's close frame is answered through the send queue: only the
	// writer writes data frames, and nothing may follow the close frame.
	c.ws.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		c.closeWith(code, "")
		return nil
	})
	go c.read()
}

// extendDeadline gives the client two ping intervals for its next frame or
// pong.
func (c *conn) extendDeadline() error {
	return c.ws.SetReadDeadline(time.Now().Add(2 * c.srv.cfg.PingInterval))
}

// read is the connection's only goroutine while it has nothing to send: it
// reads and handles the client's messages through gorilla's public read
// path until the connection ends. While the client is silent it is blocked
// in gorilla's ReadMessage, which runs the ping and pong handlers as control
// frames arrive.
func (c *conn) read() {
	defer c.finish()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.srv.refused[LimitFrameSize].Add(1)
				c.closeWith(websocket.CloseMessageTooBig, "frame over "+strconv.FormatInt(c.srv.cfg.MaxFrame, 10)+" bytes")
			}
			return
		}
		_ = c.extendDeadline()
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.sendError("bad_request", "frame is not a JSON object: "+err.Error())
			continue
		}
		c.handle(f)
	}
}

// finish ends the connection; the reader calls it, once.
func (c *conn) finish() {
	c.end()
	s := c.srv
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.unreserve(c.addr)
	s.wg.Done()
}

// end runs when the reader stops: the hub forgets the subscriptions before
// the socket goes, so nothing is delivered to a dead connection. A close
// frame already queued gets a moment to go out first.
func (c *conn) end() {
	c.mu.Lock()
	for len(c.subs) > 0 {
		c.drop(len(c.subs) - 1)
	}
	c.subs = nil
	c.mu.Unlock()
	if done := c.out.closeQueued(); done != nil {
		select {
		case <-done:
		case <-time.After(closeGrace):
		}
	}
	c.out.stop()
	c.ws.Close()
}

func (c *conn) handle(f clientFrame) {
	switch f.Type {
	case "subscribe":
		c.subscribe(f)
	case "unsubscribe":
		c.unsubscribe(f)
	case "refresh":
		c.refresh(f)
	case "ping":
		c.sendJSON(struct {
			Type string `json:"type"`
		}{"pong"})
	default:
		c.sendError("bad_request", "type must be subscribe, unsubscribe, refresh or ping")
	}
}

func (c *conn) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		c.send(frame{raw: b})
	}
}

func (c *conn) sendError(code, msg string) {
	c.sendErrorFrame(errorFrame{Type: "error", Code: code, Message: msg})
}

func (c *conn) sendErrorFrame(ef errorFrame) {
	c.srv.refusals.Info("websocket frame refused", "code", ef.Code, "reason", ef.Message, "remote_addr", c.ws.RemoteAddr().String())
	c.send(frame{raw: ef.encode()})
}

// refuse sends an error frame for a request a limit refused, and counts it.
func (c *conn) refuse(l Limit, code, msg string) {
	c.srv.refused[l].Add(1)
	c.sendError(code, msg)
}

func (c *conn) ping() { c.send(frame{kind: framePing}) }

// closeWith sends a close frame with code, after which the connection ends.
func (c *conn) closeWith(code int, reason string) {
	c.send(frame{kind: frameClose, code: code, text: reason})
}
