package ws

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// conn is one client connection. Its subscriptions are in subscriptions.go,
// the send queue in writer.go.
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
	br   *bufio.Reader
	raw  syscall.RawConn
	addr string // the client's address (clientaddr.Key), counted in the server's perAddr

	// mu guards subs and unpinned: the reader changes them, and so does the
	// server's expiry sweep (a token ending).
	mu       sync.Mutex
	subs     []*hub.Subscription // a handful at most: a slice is smaller than a map
	unpinned int
	// held is the bytes the subscriptions and their selectors hold; the
	// send queue counts its frames (NOTIFIER_MAX_CONNECTION_BYTES bounds both).
	held atomic.Int64

	nextID    int   // the reader's own
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
				c.srv.refused[LimitFrameSize].Add(1)
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
