package ws

import (
	"errors"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

type frameKind uint8

const (
	frameData  frameKind = iota // an event (sub, ev) or a protocol frame (raw)
	framePing                   // websocket ping
	frameClose                  // close frame (code, text); nothing follows it
)

// frame is one queued frame. Events are queued as pointers and written by
// the writer from parts encoded once, so a fan-out costs the hub no encoding
// under its lock.
type frame struct {
	kind   frameKind
	prefix []byte // of a message frame: see messagePrefix
	ev     *hub.Event
	pos    hub.Position // of a message frame: the subscription's position with ev
	raw    []byte
	code   int
	text   string
	span   trace.Span // the event's delivery span (trace.go); nil without tracing
	queued int64      // of an event: when the hub handed it over, Unix nanoseconds
	size   int64      // what it holds until written, counted against NOTIFIER_MAX_CONNECTION_BYTES
}

// frameOverhead is a queued frame's own cost, and a message frame's JSON
// around its parts.
const frameOverhead = 96

func (f *frame) measure() int64 {
	n := frameOverhead + len(f.raw) + len(f.text)
	if f.ev != nil {
		n += len(f.prefix) + len(f.ev.HeadersJSON) + len(f.ev.Raw) + 8*len(f.pos)
	}
	return int64(n)
}

// Why a queued frame was never written, for its delivery span.
var (
	errQueueOverflow = errors.New("dropped: the client's send queue overflowed")
	errConnClosing   = errors.New("dropped: the connection is closing")
)

// sendQueue is a connection's bounded queue of outgoing frames. A writer
// goroutine runs only while the queue is not empty: idle connections, the
// common case, have none, and pay nothing for one (docs/notifier.md, "Slow
// clients and connection resources").
type sendQueue struct {
	mu      sync.Mutex
	frames  []frame
	bytes   int64         // what the queued frames hold (frame.size)
	writing bool          // a writer goroutine is running
	closing bool          // a close frame is queued or the connection ended: queue nothing more
	done    chan struct{} // closed once the close frame is written (or failed)
}

// send queues f and starts the writer if none runs. A queue already full,
// in frames or in bytes (with the connection's subscriptions), is emptied
// and replaced by a close frame with CloseQueueOverflow.
func (c *conn) send(f frame) {
	q := &c.out
	f.size = f.measure()
	cfg := &c.srv.cfg
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		f.endSpan(errConnClosing)
		return
	}
	switch {
	case f.kind == frameClose:
		q.closing = true
	case len(q.frames) >= cfg.QueueSize || q.bytes+f.size+c.held.Load() > cfg.MaxConnectionBytes:
		reason := "client too slow: send queue over " + strconv.Itoa(cfg.QueueSize) + " frames (NOTIFIER_SEND_QUEUE)"
		if len(q.frames) < cfg.QueueSize {
			reason = "client too slow: over " + strconv.FormatInt(cfg.MaxConnectionBytes, 10) + " bytes held (NOTIFIER_MAX_CONNECTION_BYTES)"
		}
		dropped(append(q.frames, f), errQueueOverflow)
		clear(q.frames)
		q.frames = q.frames[:0]
		q.bytes = 0
		q.closing = true
		f = frame{kind: frameClose, code: CloseQueueOverflow, text: reason}
		c.srv.refused[LimitSendQueue].Add(1)
		c.srv.logger.Warn("websocket client too slow, disconnecting", "reason", reason, "remote_addr", c.ws.RemoteAddr().String())
	}
	if f.kind == frameClose && q.done == nil {
		q.done = make(chan struct{})
	}
	q.frames = append(q.frames, f)
	q.bytes += f.size
	if !q.writing {
		q.writing = true
		go c.writeLoop()
	}
}

// stop drops whatever is queued: the reader ended.
func (q *sendQueue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closing = true
	dropped(q.frames, errConnClosing)
	clear(q.frames)
	q.frames = nil
	q.bytes = 0
}

// held is what the queued frames hold.
func (q *sendQueue) held() int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.bytes
}

// closeQueued is closed once the queued close frame is written; nil when
// no close frame was queued.
func (q *sendQueue) closeQueued() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.done
}

func (q *sendQueue) pop() (frame, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.frames) == 0 {
		q.writing = false
		q.frames = nil // an idle connection keeps no backing array

		return frame{}, false
	}
	f := q.frames[0]
	q.frames[0] = frame{}
	q.frames = q.frames[1:]
	q.bytes -= f.size
	return f, true
}

// writeLoop is the only goroutine writing data frames to the socket; it ends
// when the queue is empty. Every write has a deadline.
func (c *conn) writeLoop() {
	for {
		f, ok := c.out.pop()
		if !ok {
			return
		}
		deadline := time.Now().Add(c.srv.cfg.WriteTimeout)
		var err error
		switch f.kind {
		case framePing:
			err = c.ws.WriteControl(websocket.PingMessage, nil, deadline)
		case frameClose:
			c.writeClose(f, deadline)
			return // writing stays true: nothing is written after a close frame
		default:
			_ = c.ws.SetWriteDeadline(deadline)
			err = c.writeData(f)
			f.endSpan(err)
			if err == nil && f.ev != nil {
				m := c.srv.cfg.Metrics
				m.Deliveries.Inc()
				m.DeliverySeconds.Observe(float64(time.Now().UnixNano()-f.queued) / 1e9)
			}
		}
		if err != nil {
			// The reader sees the closed socket, ends and cleans up.
			c.ws.Close()
			c.out.stop()
			return
		}
	}
}

func (c *conn) writeClose(f frame, deadline time.Time) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(f.code, f.text), deadline)
	c.out.mu.Lock()
	done := c.out.done
	c.out.mu.Unlock()
	close(done)
	// Wait for the client's answering close frame (the reader then ends),
	// but not for long.
	_ = c.ws.NetConn().SetReadDeadline(time.Now().Add(closeGrace))
	time.AfterFunc(closeGrace, func() { c.ws.Close() })
}

// writeData writes one text frame. A message frame is assembled from parts
// encoded once (the subscription's prefix, the event's headers and raw body):
// no per-delivery JSON encoding.
func (c *conn) writeData(f frame) error {
	w, err := c.ws.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if f.ev == nil {
		_, err = w.Write(f.raw)
	} else {
		err = writeMessage(w, f.prefix, f.ev, f.pos)
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

var (
	headersKey  = []byte(`,"headers":`)
	dataKey     = []byte(`,"data":`)
	positionKey = []byte(`,"position":`)
	endObject   = []byte(`}`)
)

func writeMessage(w io.Writer, prefix []byte, ev *hub.Event, pos hub.Position) error {
	var position []byte
	if pos != nil {
		position = pos.AppendJSON(append(make([]byte, 0, 16+8*len(pos)), positionKey...))
	}
	for _, part := range [...][]byte{prefix, headersKey, ev.HeadersJSON, dataKey, ev.Raw, position, endObject} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	return nil
}
