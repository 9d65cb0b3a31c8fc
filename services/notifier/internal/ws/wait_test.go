package ws

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/tools/testenv"
)

// The tests below are about the reader's waiter (conn.go: wait, read,
// parkIfIdle): the reader leaves gorilla only when gorilla's buffer holds
// nothing, at a frame boundary, and waits for the socket outside it. They
// write client frames as raw bytes, to control how they reach the server.

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
// would make the socket readable and wake a reader parked by mistake.
var quiet = Config{PingInterval: time.Hour}

// answer reads the server's next frame, failing soon: a reader that parked
// with a frame left in gorilla's buffer leaves it unanswered.
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

// readers counts the server's connection goroutines by what they do:
// waiting (conn.wait, outside gorilla) or reading (anywhere in conn.read,
// gorilla's read path included).
func readers() (waiting, reading int) {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		switch {
		case strings.Contains(g, "ws.(*conn).read("):
			reading++
		case strings.Contains(g, "ws.(*conn).wait("):
			waiting++
		}
	}
	return waiting, reading
}

// TestIdleConnectionWaitsOutsideGorilla: after a data frame, a pong or a
// ping, an idle connection's only reader goroutine is a waiter, not a reader
// blocked in gorilla's read path (the 4 KB stack the waiter saves).
func TestIdleConnectionWaitsOutsideGorilla(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	expectWaiter := func(after string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for {
			w, r := readers()
			if w == 1 && r == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %d waiting and %d reading goroutines, want 1 waiting", after, w, r)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	expectWaiter("the handshake")
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	expectWaiter("a data frame")
	writeRaw(t, c, wireFrame(websocket.PongMessage, nil))
	expectWaiter("a pong")
	writeRaw(t, c, wireFrame(websocket.PingMessage, []byte("p")))
	expectWaiter("a ping")
	writeRaw(t, c, wireFragment(false, websocket.TextMessage, []byte(`{"type":`)))
	time.Sleep(50 * time.Millisecond)
	if w, r := readers(); r != 1 {
		t.Fatalf("inside a fragmented message: %d waiting and %d reading goroutines, want 1 reading", w, r)
	}
	writeRaw(t, c, wireFragment(true, 0, []byte(`"ping"}`)))
	if a := answer(t, c); a.Type != "pong" {
		t.Fatalf("answer = %+v, want pong", a)
	}
	expectWaiter("a fragmented message")
}

// TestControlFrameThenDataInOneSegment: when a pong or a ping is followed in
// the same segment by a data frame, the control frame's handler must not
// park the reader, since the data frame is already in gorilla's buffer and
// the socket will not become readable for it again.
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

// TestControlFrameAloneThenData: a pong or ping alone parks the reader;
// the next frame, sent later, is read by a new one.
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
// before the reader parks (it parks only when gorilla's buffer, which must
// be the one the connection inspects, is empty).
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

// TestControlFrameInsideFragmentedMessage: a ping between the fragments of a
// message, alone in gorilla's buffer, must not park the reader: that would
// lose the fragments read so far.
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
// connection over many intervals (each pong extends its deadline and parks
// its reader) and still gets its events and answers.
func TestPingedClientStaysAndGetsEvents(t *testing.T) {
	const interval = 50 * time.Millisecond
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
// its connection (the waiter sees the end of the stream).
func TestAbruptDisconnectWhileIdle(t *testing.T) {
	f := start(t, quiet)
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	time.Sleep(50 * time.Millisecond)
	c.NetConn().(*net.TCPConn).Close()
	noConnections(t, f.srv, "connection still open after the client went")
}

// TestDataBeforeHandshakeIsRefused: a client that writes a frame before the
// handshake's answer is refused, as gorilla refuses it (the frame sits in
// net/http's reader, which the hijacker then hands back as it is).
func TestDataBeforeHandshakeIsRefused(t *testing.T) {
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
	b, err := io.ReadAll(nc)
	if err != nil || len(b) != 0 {
		t.Fatalf("answer %q (%v), want the connection closed without one", b, err)
	}
	if n := f.srv.Connections(); n != 0 {
		t.Fatalf("%d connections, want 0", n)
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
