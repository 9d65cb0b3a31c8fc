package ws

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/selector"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// conn is one client connection. Its reader owns subs; the send queue is in
// writer.go.
//
// The reader comes in two shapes, never both at once (see wait and read):
// while the client is silent, a waiter goroutine with a shallow stack waits
// for the socket to become readable without reading; it then becomes the
// reader, reads what gorilla can read without waiting, and hands over to a
// new waiter. Each hand-over is a go statement, so subs has one owner at a
// time.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	out sendQueue
	// br is gorilla's read buffer, allocated by us (see hijacker) so that the
	// reader can tell whether gorilla holds bytes not yet parsed. raw is the
	// socket, to wait on without reading. Both nil: the reader stays in
	// gorilla's read path, blocked there while the client is silent.
	br  *bufio.Reader
	raw syscall.RawConn

	subs      []*hub.Subscription // a handful at most: a slice is smaller than a map
	unpinned  int
	nextID    int
	pingSlot  uint8 // which of the server's ping ticks pings this connection
	inMessage bool  // the reader is inside a data message: not at a frame boundary
}

// errParked unwinds the reader out of gorilla from a control frame's handler
// (see parkIfIdle); read recovers it. It is never returned.
var errParked = errors.New("ws: reader parked")

// start sets the connection up and starts its reader.
func (c *conn) start() {
	c.ws.SetReadLimit(c.srv.cfg.MaxFrame)
	_ = c.extendDeadline()
	c.ws.SetPongHandler(func(string) error {
		if err := c.extendDeadline(); err != nil {
			return err
		}
		c.parkIfIdle()
		return nil
	})
	// A client's ping is answered as gorilla's default handler does (a pong
	// written at once, with the ping's payload); then the reader may park.
	answer := c.ws.PingHandler()
	c.ws.SetPingHandler(func(data string) error {
		if err := answer(data); err != nil {
			return err
		}
		c.parkIfIdle()
		return nil
	})
	// The client's close frame is answered through the send queue: only the
	// writer writes data frames, and nothing may follow the close frame.
	c.ws.SetCloseHandler(func(code int, _ string) error {
		if code == websocket.CloseNoStatusReceived {
			code = websocket.CloseNormalClosure
		}
		c.closeWith(code, "")
		return nil
	})
	if c.raw != nil {
		go c.wait()
	} else {
		go c.read()
	}
}

// extendDeadline gives the client two ping intervals for its next frame or
// pong. The deadline is the socket's: it bounds the waiter's wait too.
func (c *conn) extendDeadline() error {
	return c.ws.SetReadDeadline(time.Now().Add(2 * c.srv.cfg.PingInterval))
}

// wait is an idle connection's only goroutine. gorilla's read path blocks
// deep (ReadMessage → NextReader → advanceFrame → bufio → net.Conn.Read →
// poll), which grows a goroutine past its 2 KB initial stack to 4 KB, kept
// for as long as the client is silent. wait instead blocks in the runtime's
// poller through syscall.RawConn.Read, whose callback only peeks (readable,
// in wait_linux.go): a stack well within 2 KB. Once the socket is readable
// (data, end of stream or an error), the same goroutine reads with gorilla.
// The read deadline applies to the wait: a client silent past it is dropped,
// as a read error would drop it.
func (c *conn) wait() {
	if err := c.raw.Read(readable); err != nil {
		c.finish() // deadline passed, or the socket was closed
		return
	}
	c.read()
}

// read reads and handles messages while gorilla can make progress without
// waiting for the client, then parks: it starts a new waiter and returns, so
// that the stack grown in gorilla's read path is freed and the waiter starts
// small. It parks at a frame boundary with gorilla's buffer empty, either
// after a data message or from a control frame's handler (parkIfIdle). A
// frame that has only partly arrived is waited for inside gorilla, as is the
// rest of a fragmented message. Without raw (not a plain TCP socket) it never
// parks and reads until the connection ends.
func (c *conn) read() {
	for {
		data, parked, err := c.next()
		switch {
		case parked:
			go c.wait()
			return
		case err != nil:
			if errors.Is(err, websocket.ErrReadLimit) {
				c.closeWith(websocket.CloseMessageTooBig, "frame over "+strconv.FormatInt(c.srv.cfg.MaxFrame, 10)+" bytes")
			}
			c.finish()
			return
		}
		_ = c.extendDeadline()
		var f clientFrame
		if err := json.Unmarshal(data, &f); err != nil {
			c.sendError("bad_request", "frame is not a JSON object: "+err.Error())
		} else {
			c.handle(f)
		}
		if c.idle() {
			go c.wait()
			return
		}
	}
}

// next reads the next data message, as gorilla's ReadMessage does.
// parked reports that a control frame's handler unwound NextReader with
// errParked: the reader is at a frame boundary with nothing buffered.
func (c *conn) next() (data []byte, parked bool, err error) {
	r, parked, err := c.nextReader()
	if parked || err != nil {
		return nil, parked, err
	}
	c.inMessage = true
	data, err = io.ReadAll(r)
	c.inMessage = false
	return data, false, err
}

func (c *conn) nextReader() (r io.Reader, parked bool, err error) {
	defer func() {
		if p := recover(); p != nil {
			if p != errParked {
				panic(p)
			}
			parked = true
		}
	}()
	_, r, err = c.ws.NextReader()
	return r, false, err
}

// idle: the reader is at a frame boundary and gorilla's buffer holds
// nothing, so the client's next byte, if any, is still in the socket and a
// waiter can wait for it.
func (c *conn) idle() bool {
	return c.raw != nil && !c.inMessage && c.br.Buffered() == 0
}

// parkIfIdle runs at the end of the pong and ping handlers. After a control
// frame gorilla's NextReader does not return: it goes on to the next frame
// and, when the client is silent, blocks for it deep in its read path (the
// 4 KB stack wait avoids). When idle, parkIfIdle unwinds the reader out of
// gorilla by panicking with errParked, which nextReader recovers; read then
// parks. That is safe with gorilla v1.5.3 (conn.go, advanceFrame): the
// handlers run in step 7, after step 6 has read the whole control frame
// payload out of the buffer and set readRemaining to 0, so the Conn stands
// at a frame boundary; NextReader has already reset messageReader, reader and
// readLength; a control frame does not touch readFinal (true between
// messages); and nothing on the path NextReader → advanceFrame → handler
// defers or holds a lock, so unwinding skips no cleanup. The next
// NextReader starts from that state as if the previous one had returned.
// Inside a data message (a control frame between fragments, read by the
// message reader) it does not unwind: the partial message would be lost.
func (c *conn) parkIfIdle() {
	if c.idle() {
		panic(errParked)
	}
}

// finish ends the connection; whichever of waiter and reader sees the end
// calls it, once.
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
func (s *sink) Deliver(sub *hub.Subscription, ev *hub.Event) {
	s.c.send(frame{prefix: s.prefix, ev: ev, span: s.deliverySpan(sub, ev), queued: time.Now().UnixNano()})
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
