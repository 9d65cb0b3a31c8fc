package ws

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// conn is one client connection. Its reader goroutine owns subs; the send
// queue is in writer.go.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	out sendQueue

	subs     []*hub.Subscription // a handful at most: a slice is smaller than a map
	unpinned int
	nextID   int
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
// in gorilla's NextReader, which runs the ping and pong handlers as control
// frames arrive.
func (c *conn) read() {
	defer c.finish()
	for {
		_, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
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
	s.wg.Done()
}

// end runs when the reader stops: the hub forgets the subscriptions before
// the socket goes, so nothing is delivered to a dead connection. A close
// frame already queued gets a moment to go out first.
func (c *conn) end() {
	for _, s := range c.subs {
		c.srv.hub.Unsubscribe(s)
	}
	c.subs = nil
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
		i := slices.IndexFunc(c.subs, func(s *hub.Subscription) bool { return s.ID == f.Subscription })
		if i < 0 {
			c.sendError("unknown_subscription", "no subscription "+strconv.Quote(f.Subscription)+" on this connection")
			return
		}
		s := c.subs[i]
		c.srv.hub.Unsubscribe(s)
		c.subs = slices.Delete(c.subs, i, i+1)
		if !s.Pinned() {
			c.unpinned--
		}
		c.sendJSON(subscribedFrame{"unsubscribed", s.ID})
	case "ping":
		c.sendJSON(struct {
			Type string `json:"type"`
		}{"pong"})
	default:
		c.sendError("bad_request", "type must be subscribe, unsubscribe or ping")
	}
}

func (c *conn) subscribe(f clientFrame) {
	cfg := &c.srv.cfg
	sel, ef := parseTarget(f)
	if ef != nil {
		c.send(frame{raw: ef.encode()})
		return
	}
	ids, pinned := selector.PinnedIDs(sel)
	if cfg.RequireToken {
		// A token is bound to one transaction: it can only authorize a
		// selector every matching event of which carries that id.
		if !pinned {
			c.sendError("unauthorized", "a subscription token covers one transaction: the selector must pin id (id = '<transaction id>', possibly AND other conditions)")
			return
		}
		for _, id := range ids {
			if err := subtoken.Verify(cfg.TokenSecret, f.Token, id, time.Now()); err != nil {
				c.sendError("unauthorized", err.Error()+" (id "+strconv.Quote(id)+")")
				return
			}
		}
	}
	if len(c.subs) >= cfg.MaxSubscriptions {
		c.sendError("too_many_subscriptions", "at most "+strconv.Itoa(cfg.MaxSubscriptions)+" subscriptions per connection")
		return
	}
	if !pinned && c.unpinned >= cfg.MaxUnpinned {
		c.sendError("too_many_subscriptions", "at most "+strconv.Itoa(cfg.MaxUnpinned)+" subscriptions per connection whose selector does not pin id")
		return
	}
	c.nextID++
	id := "s" + strconv.Itoa(c.nextID)
	channel := f.Channel
	if channel == Channel {
		channel = Channel // one string for every connection, not a copy each
	}
	s := hub.NewSubscription(id, channel, sel, &sink{c: c, prefix: messagePrefix(id, channel)})
	c.subs = append(c.subs, s)
	if !pinned {
		c.unpinned++
	}
	// Queued before the hub replays the window into the same queue.
	c.sendJSON(subscribedFrame{"subscribed", s.ID})
	c.srv.hub.Subscribe(s)
}

// sink is a subscription's end in a connection.
type sink struct {
	c      *conn
	prefix []byte // the subscription's message frame up to the headers
}

// Deliver implements hub.Sink: it only queues.
func (s *sink) Deliver(_ *hub.Subscription, ev *hub.Event) {
	s.c.send(frame{prefix: s.prefix, ev: ev})
}

func (c *conn) sendJSON(v any) {
	b, err := json.Marshal(v)
	if err == nil {
		c.send(frame{raw: b})
	}
}

func (c *conn) sendError(code, msg string) {
	c.srv.refusals.Info("websocket frame refused", "code", code, "reason", msg, "remote_addr", c.ws.RemoteAddr().String())
	c.send(frame{raw: errorFrame{"error", code, msg}.encode()})
}

func (c *conn) ping() { c.send(frame{kind: framePing}) }

// closeWith sends a close frame with code, after which the connection ends.
func (c *conn) closeWith(code int, reason string) {
	c.send(frame{kind: frameClose, code: code, text: reason})
}
