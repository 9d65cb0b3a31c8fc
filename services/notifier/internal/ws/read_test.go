package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"io"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/tools/testenv"
)

// The tests below are about the reader (conn.go: read): it reads every
// client frame through gorilla's public read path, whichever way the frames
// reach the server. They write client frames as raw bytes, to control how
// they reach the server.

// wireFrame is one final, masked client frame (RFC 6455 section 5.2).
func wireFrame(opcode byte, payload []byte) []byte { return wireFragment(true, opcode, payload) }

// wireFragment is one masked client frame, final or not (opcode 0 is a
// continuation).
func wireFragment(final bool, opcode byte, payload []byte) []byte {
	b := []byte{opcode}
	if final {
		b[0] |= 0x80
	}
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n < 1<<16:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		panic("frame too long for this test")
	}
	key := [4]byte{0x5a, 0x13, 0xc7, 0x01}
	b = append(b, key[:]...)
	for i, p := range payload {
		b = append(b, p^key[i%4])
	}
	return b
}

func subscribeFrame(t *testing.T, channel string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]string{"type": "subscribe", "channel": channel})
	if err != nil {
		t.Fatal(err)
	}
	return wireFrame(websocket.TextMessage, b)
}

// quiet is a config without server pings during a test: a ping's answer
// would make the socket readable again and could hide a frame the reader
// left unread.
var quiet = Config{PingInterval: time.Hour}

// answer reads the server's next frame, failing soon: a reader that stopped
// with a frame left unread leaves it unanswered.
func answer(t *testing.T, c *websocket.Conn) serverFrame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var f serverFrame
	if err := c.ReadJSON(&f); err != nil {
		t.Fatalf("read: %v", err)
	}
	return f
}

// writeRaw writes b to the client's socket in one write: on loopback, one
// segment, so the server's first read takes all of it into gorilla's buffer.
func writeRaw(t *testing.T, c *websocket.Conn, b []byte) {
	t.Helper()
	if _, err := c.NetConn().Write(b); err != nil {
		t.Fatal(err)
	}
}

// goroutines counts the server's connection goroutines: readers (anywhere
// in conn.read, gorilla's read path included) and writers.
func goroutines() (readers, writers int) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "ws.(*conn).read("):
			readers++
		case strings.Contains(g, "ws.(*conn).writeLoop("):
			writers++
		}
	}
	return readers, writers
}

// TestIdleConnectionHasOneGoroutine: after a data frame, a pong, a ping or a
// fragmented message, and inside one, an idle connection has one goroutine,
// its reader: what an idle connection costs (docs/notifier.md) counts one.
func TestIdleConnectionHasOneGoroutine(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	expectOne := func(after string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			r, w := goroutines()
			if r == 1 && w == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d readers and %d writers, want 1 reader", after, r, w)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	expectOne("the handshake")
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	expectOne("a data frame")
	writeRaw(t, c, wireFrame(websocket.PongMessage, nil))
	expectOne("a pong")
	writeRaw(t, c, wireFrame(websocket.PingMessage, []byte("p")))
	expectOne("a ping")
	writeRaw(t, c, wireFragment(false, websocket.TextMessage, []byte(`{"type":`)))
	expectOne("the first fragment of a message")
	writeRaw(t, c, wireFragment(true, 0, []byte(`"ping"}`)))
	if a := answer(t, c); a.Type != "pong" {
		t.Fatalf("answer = %+v, want pong", a)
	}
	expectOne("a fragmented message")
}

// TestControlFrameThenDataInOneSegment: when a pong or a ping is followed in
// the same segment by a data frame, the data frame is read too, although the
// socket will not become readable for it again.
func TestControlFrameThenDataInOneSegment(t *testing.T) {
	f := start(t, quiet)
	for _, tt := range []struct {
		name   string
		opcode byte
	}{{"pong", websocket.PongMessage}, {"ping", websocket.PingMessage}} {
		t.Run(tt.name, func(t *testing.T) {
			c := f.dial(t, nil)
			pongs := make(chan string, 1)
			c.SetPongHandler(func(data string) error { pongs <- data; return nil })
			b := append(wireFrame(tt.opcode, []byte("hello")), subscribeFrame(t, "stripe/ch_1")...)
			writeRaw(t, c, b)
			if a := answer(t, c); a.Type != "subscribed" {
				t.Fatalf("answer = %+v, want subscribed", a)
			}
			if tt.opcode == websocket.PingMessage {
				select {
				case data := <-pongs:
					if data != "hello" {
						t.Fatalf("pong %q, want hello", data)
					}
				default:
					t.Fatal("the ping was not answered before the subscription")
				}
			}
		})
	}
}

// TestControlFrameAloneThenData: after a pong or ping alone the reader
// waits for the client; the next frame, sent later, is read.
func TestControlFrameAloneThenData(t *testing.T) {
	f := start(t, quiet)
	for _, opcode := range []byte{websocket.PongMessage, websocket.PingMessage} {
		c := f.dial(t, nil)
		pongs := make(chan string, 1)
		c.SetPongHandler(func(data string) error { pongs <- data; return nil })
		writeRaw(t, c, wireFrame(opcode, []byte("x")))
		time.Sleep(50 * time.Millisecond)
		writeRaw(t, c, subscribeFrame(t, "stripe/ch_1"))
		if a := answer(t, c); a.Type != "subscribed" {
			t.Fatalf("opcode %d: answer = %+v, want subscribed", opcode, a)
		}
		if opcode == websocket.PingMessage && len(pongs) != 1 {
			t.Fatal("the ping was not answered")
		}
	}
}

// TestDataFramesInOneSegment: frames that arrive together are all read
// before the reader waits for the client again.
func TestDataFramesInOneSegment(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	small := func() []byte {
		var b []byte
		for _, ch := range []string{"stripe/ch_1", "stripe/ch_2", "stripe/ch_3"} {
			b = append(b, subscribeFrame(t, ch)...)
		}
		return b
	}
	// A frame larger than the read buffer, read through it in pieces.
	large := subscribeFrame(t, "stripe/ch_"+strings.Repeat("4", 600))
	for _, w := range []struct {
		b      []byte
		frames int
	}{
		{small(), 3},
		// The small frames reach the buffer in the large frame's last read.
		{append(large, small()...), 4},
	} {
		writeRaw(t, c, w.b)
		for i := range w.frames {
			if a := answer(t, c); a.Type != "subscribed" {
				t.Fatalf("answer %d = %+v, want subscribed", i, a)
			}
		}
	}
}

// TestFrameSplitAcrossWrites: a frame whose rest arrives later, whether
// split in its header, its mask key or its payload, is waited for and read.
func TestFrameSplitAcrossWrites(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	b := subscribeFrame(t, "stripe/ch_1")
	for _, at := range []int{1, 2, 4, 10, len(b) - 1} {
		writeRaw(t, c, b[:at])
		time.Sleep(50 * time.Millisecond)
		writeRaw(t, c, b[at:])
		if a := answer(t, c); a.Type != "subscribed" {
			t.Fatalf("split at %d: answer = %+v, want subscribed", at, a)
		}
	}
}

// TestControlFrameInsideFragmentedMessage: a ping or pong between the
// fragments of a message, each arriving alone, loses none of the fragments.
func TestControlFrameInsideFragmentedMessage(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	msg := []byte(`{"type":"subscribe","channel":"stripe/ch_1"}`)
	for _, b := range [][]byte{
		wireFragment(false, websocket.TextMessage, msg[:10]),
		wireFrame(websocket.PingMessage, []byte("mid")),
		wireFragment(false, 0, msg[10:20]),
		wireFrame(websocket.PongMessage, nil),
		wireFragment(true, 0, msg[20:]),
	} {
		writeRaw(t, c, b)
		time.Sleep(30 * time.Millisecond)
	}
	if a := answer(t, c); a.Type != "subscribed" {
		t.Fatalf("answer = %+v, want subscribed", a)
	}
	if len(pongs) != 1 {
		t.Fatal("the ping was not answered")
	}
}

// TestPingedClientStaysAndGetsEvents: a client that answers pings keeps its
// connection over many intervals (each pong extends its deadline) and still
// gets its events and answers.
func TestPingedClientStaysAndGetsEvents(t *testing.T) {
	// A client is dropped when a pong is late by one interval: at 50 ms,
	// this test failed about one run in three on a loaded 2-core machine.
	const interval = 200 * time.Millisecond
	f := start(t, Config{PingInterval: interval})
	c := f.dial(t, nil)
	pings := make(chan struct{}, 100)
	c.SetPingHandler(func(data string) error {
		pings <- struct{}{}
		return c.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	frames := make(chan serverFrame, 10)
	errs := make(chan error, 1)
	go func() {
		for {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			var m serverFrame
			if err := c.ReadJSON(&m); err != nil {
				errs <- err
				return
			}
			frames <- m
		}
	}()
	time.Sleep(10 * interval)
	if n := len(pings); n < 5 {
		t.Fatalf("%d pings in 10 intervals, want at least 5", n)
	}
	if n := f.srv.Connections(); n != 1 {
		t.Fatalf("%d connections, want 1", n)
	}
	f.hub.Publish(event("evt_1", "charge.succeeded", "ch_1"))
	next := func() serverFrame {
		select {
		case m := <-frames:
			return m
		case err := <-errs:
			t.Fatalf("read: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("no frame")
		}
		return serverFrame{}
	}
	if m := next(); m.Type != "message" || m.Headers["event_id"] != "evt_1" {
		t.Fatalf("frame = %+v, want the message of evt_1", m)
	}
	time.Sleep(4 * interval)
	if err := c.WriteJSON(map[string]string{"type": "ping"}); err != nil {
		t.Fatal(err)
	}
	if m := next(); m.Type != "pong" {
		t.Fatalf("frame = %+v, want pong", m)
	}
}

// TestClientCloseWhileIdle: a close frame from a client whose reader waits
// is answered, and the connection ends.
func TestClientCloseWhileIdle(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	time.Sleep(50 * time.Millisecond)
	if err := c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err := c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseNormalClosure {
		t.Fatalf("read after close: %v, want close 1000", err)
	}
	noConnections(t, f.srv, "connection still open after the close handshake")
}

// TestAbruptDisconnectWhileIdle: a client gone without a close frame ends
// its connection (the reader sees the end of the stream).
func TestAbruptDisconnectWhileIdle(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	time.Sleep(50 * time.Millisecond)
	c.NetConn().(*net.TCPConn).Close()
	noConnections(t, f.srv, "connection still open after the client went")
}

// TestDataBeforeHandshakeIsNotLost: a client that writes a frame before the
// handshake's answer is either refused (gorilla v1.5.3 closes the
// connection without an answer) or answered; its frame is never lost
// silently. gorilla does not document which, so either passes.
func TestDataBeforeHandshakeIsNotLost(t *testing.T) {
	f := start(t, quiet)
	nc, err := net.Dial("tcp", strings.TrimPrefix(f.url, "ws://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	req := "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write(append([]byte(req), subscribeFrame(t, "stripe/ch_1")...)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, _ := io.ReadAll(nc) // to the end of the stream, or the deadline if answered
	switch {
	case len(b) == 0:
		noConnections(t, f.srv, "refused connection still counted")
	case bytes.HasPrefix(b, []byte("HTTP/1.1 101 ")) && bytes.Contains(b, []byte(`"subscribed"`)):
	default:
		t.Fatalf("answer %q, want none (refused) or the subscription answered", b)
	}
}

// noConnections waits until the server holds no connection.
func noConnections(t *testing.T, srv *Server, why string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, func() error {
		if n := srv.Connections(); n != 0 {
			return fmt.Errorf("%s: %d open", why, n)
		}
		return nil
	})
}

// TestControlFramesWhileIdleThenSlowClient: the reader handles a client's
// pings and pongs while it is otherwise idle (its pings are answered, its
// pongs keep it connected over many ping intervals), and that client, once
// it stops reading, is still closed with CloseQueueOverflow. Control frames
// are handled inside gorilla's read path and its handlers return normally:
// see TestNoRecoverInPackage.
func TestControlFramesWhileIdleThenSlowClient(t *testing.T) {
	const interval = 200 * time.Millisecond
	f := start(t, Config{PingInterval: interval, QueueSize: 16, WriteTimeout: 30 * time.Second})
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})

	// The client reads (which answers the server's pings) until stop is
	// closed, then stops until read is closed, and then reads to the end.
	pongs := make(chan string, 100)
	c.SetPongHandler(func(data string) error { pongs <- data; return nil })
	stop, resume := make(chan struct{}), make(chan struct{})
	end := make(chan error, 1)
	go func() {
		stopped := false
		for {
			_ = c.SetReadDeadline(time.Now().Add(60 * time.Second))
			_, _, err := c.ReadMessage()
			if err != nil {
				end <- err
				return
			}
			select {
			case <-stop:
				if !stopped {
					stopped = true
					<-resume
				}
			default:
			}
		}
	}()
	// The client's own pings, and pongs nobody asked for, while idle.
	for i := range 10 {
		deadline := time.Now().Add(time.Second)
		if err := c.WriteControl(websocket.PingMessage, []byte(fmt.Sprint(i)), deadline); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteControl(websocket.PongMessage, nil, deadline); err != nil {
			t.Fatal(err)
		}
		select {
		case data := <-pongs:
			if data != fmt.Sprint(i) {
				t.Fatalf("pong %q, want %d", data, i)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("ping %d not answered", i)
		}
		time.Sleep(interval / 2)
	}
	if n := f.srv.Connections(); n != 1 {
		t.Fatalf("%d connections after five ping intervals, want 1", n)
	}

	// Now the client stops reading but stays alive with pongs of its own
	// (the server's pings are answered only by reading); the events fill
	// its socket, then its queue.
	alive := make(chan struct{})
	defer close(alive)
	go func() {
		for {
			select {
			case <-alive:
				return
			case <-time.After(interval / 2):
				_ = c.WriteControl(websocket.PongMessage, nil, time.Now().Add(time.Second))
			}
		}
	}()
	f.hub.Publish(event("evt_first", "charge.updated", "ch_1"))
	close(stop)
	overflowed := func() bool {
		for _, sc := range f.srv.snapshot() {
			sc.out.mu.Lock()
			closing := sc.out.closing
			sc.out.mu.Unlock()
			if closing {
				return true
			}
		}
		return false
	}
	for i := 0; !overflowed(); i++ {
		if i == 20000 {
			t.Fatal("20,000 events to a client that does not read, and its queue has not overflowed")
		}
		f.hub.Publish(event(fmt.Sprintf("evt_%d", i), "charge.updated", "ch_1"))
		if i%100 == 0 {
			time.Sleep(time.Millisecond) // let the writer fill the socket
		}
	}
	close(resume)
	select {
	case err := <-end:
		if !websocket.IsCloseError(err, CloseQueueOverflow) {
			t.Fatalf("slow client ended with %v, want close %d", err, CloseQueueOverflow)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the slow client was not closed")
	}
	noConnections(t, f.srv, "slow client still connected after its close")
}

// TestNoRecoverInPackage: the reader never unwinds gorilla's frames. A
// panic out of a handler, recovered around gorilla's NextReader, would rest
// on gorilla's internals (what state a frame leaves behind, what its read
// path defers); the package's code therefore calls neither recover nor
// panic.
func TestNoRecoverInPackage(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := gotoken.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		ast.Inspect(file, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok {
				if id, ok := call.Fun.(*ast.Ident); ok && (id.Name == "recover" || id.Name == "panic") {
					t.Errorf("%s: %s() in the websocket port", fset.Position(call.Pos()), id.Name)
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source file checked")
	}
}
