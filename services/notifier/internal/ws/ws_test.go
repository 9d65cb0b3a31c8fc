package ws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"

	"github.com/stripeline/stripeline/tools/testenv"
)

var (
	secret = []byte("0123456789abcdef0123")
	keys   = subtoken.Keys{{Secret: secret}}
)

type fixture struct {
	hub    *hub.Hub
	srv    *Server
	url    string
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t testing.TB, cfg Config) *fixture {
	t.Helper()
	if cfg.TokenKeys == nil {
		cfg.TokenKeys = keys
	}
	h := hub.New(hub.Config{Window: time.Minute})
	s := NewServer(cfg, h, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ts := httptest.NewServer(s)
	ctx, cancel := context.WithCancel(context.Background())
	f := &fixture{hub: h, srv: s, url: "ws" + strings.TrimPrefix(ts.URL, "http"), cancel: cancel, done: make(chan struct{})}
	go func() { _ = s.Run(ctx, 5*time.Second); close(f.done) }()
	t.Cleanup(func() { cancel(); <-f.done; ts.Close() })
	return f
}

func (f *fixture) dial(t testing.TB, header http.Header) *websocket.Conn {
	t.Helper()
	c, resp, err := websocket.DefaultDialer.Dial(f.url, header)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type serverFrame struct {
	Type, Subscription, Channel, Code, Message string
	Headers                                    map[string]string
	Data                                       json.RawMessage
}

func read(t *testing.T, c *websocket.Conn) serverFrame {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	var f serverFrame
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
	return f
}

func request(t *testing.T, c *websocket.Conn, v map[string]string) serverFrame {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
	return read(t, c)
}

// subscribe sends a subscribe request with the members of req and fails the
// test unless it is answered "subscribed".
func subscribe(t *testing.T, c *websocket.Conn, req map[string]string) {
	t.Helper()
	req["type"] = "subscribe"
	if a := request(t, c, req); a.Type != "subscribed" {
		t.Fatalf("answer = %+v", a)
	}
}

func token(id string) string { return subtoken.Sign(secret, id, time.Now().Add(time.Hour)) }

func event(id, typ, object string, related ...string) *hub.Event {
	env := stripeevent.Envelope{ID: id, Type: typ, ObjectID: object, RelatedIDs: related, ObjectType: "charge"}
	raw := fmt.Sprintf(`{"id":%q,"type":%q,"data":{"object":{"id":%q,"pad":"%s"}}}`, id, typ, object, strings.Repeat("x", 2000))
	return hub.NewEvent(env, kafka.EventHeaders(env, time.Now()), []byte(raw), time.Now())
}

func TestSubscribeThenMessage(t *testing.T) {
	f := start(t, Config{RequireToken: true})
	c := f.dial(t, nil)
	sub := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = 'pi_1' AND type = 'charge.succeeded'", "token": token("pi_1")})
	if sub.Type != "subscribed" {
		t.Fatalf("answer = %+v", sub)
	}
	f.hub.Publish(event("evt_0", "charge.updated", "ch_1", "pi_1"))
	f.hub.Publish(event("evt_1", "charge.succeeded", "ch_1", "pi_1"))
	m := read(t, c)
	if m.Type != "message" || m.Subscription != sub.Subscription || m.Channel != "stripe" || m.Headers["event_id"] != "evt_1" {
		t.Fatalf("message = %+v", m)
	}
	var data struct{ ID string }
	if err := json.Unmarshal(m.Data, &data); err != nil || data.ID != "evt_1" {
		t.Fatalf("data = %s (%v)", m.Data, err)
	}
	if u := request(t, c, map[string]string{"type": "unsubscribe", "subscription": sub.Subscription}); u.Type != "unsubscribed" {
		t.Fatalf("unsubscribe answer = %+v", u)
	}
}

func TestWindowIsReplayedBeforeLive(t *testing.T) {
	f := start(t, Config{RequireToken: true})
	f.hub.Publish(event("evt_early", "charge.succeeded", "ch_1"))
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1", "token": token("ch_1")})
	f.hub.Publish(event("evt_late", "charge.refunded", "ch_1"))
	for _, want := range []string{"evt_early", "evt_late"} {
		if m := read(t, c); m.Headers["event_id"] != want || m.Channel != "stripe/ch_1" {
			t.Fatalf("message = %+v, want %s on stripe/ch_1", m, want)
		}
	}
}

func TestBadRequestsKeepTheConnectionOpen(t *testing.T) {
	f := start(t, Config{RequireToken: true, MaxSubscriptions: 2})
	c := f.dial(t, nil)
	expired := subtoken.Sign(secret, "ch_1", time.Now().Add(-time.Second))
	forged := subtoken.Sign([]byte("another secret, not the api's"), "ch_1", time.Now().Add(time.Hour))
	tests := []struct {
		frame      map[string]string
		code, text string
	}{
		{map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = 'ch_1' AND", "token": token("ch_1")}, "bad_selector", "position 16"},
		{map[string]string{"type": "subscribe", "channel": "stripe", "selector": "amount = '5'", "token": token("ch_1")}, "bad_selector", "unknown field"},
		{map[string]string{"type": "subscribe", "channel": "stripe"}, "bad_selector", "needs a selector"},
		{map[string]string{"type": "subscribe", "channel": "other"}, "bad_channel", "channel must be"},
		{map[string]string{"type": "subscribe", "channel": "stripe/ch_B", "token": token("ch_A")}, "unauthorized", "another transaction"},
		{map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id IN ('ch_1', 'ch_2')", "token": token("ch_1")}, "unauthorized", "another transaction"},
		{map[string]string{"type": "subscribe", "channel": "stripe/ch_1", "token": expired}, "unauthorized", "expired"},
		{map[string]string{"type": "subscribe", "channel": "stripe/ch_1", "token": forged}, "unauthorized", "signature"},
		{map[string]string{"type": "subscribe", "channel": "stripe/ch_1"}, "unauthorized", "malformed"},
		{map[string]string{"type": "subscribe", "channel": "stripe", "selector": "type = 'charge.succeeded'", "token": token("ch_1")}, "unauthorized", "must pin id"},
		{map[string]string{"type": "unsubscribe", "subscription": "s99"}, "unknown_subscription", "s99"},
		{map[string]string{"type": "dance"}, "bad_request", "subscribe, unsubscribe, refresh or ping"},
	}
	for _, tt := range tests {
		a := request(t, c, tt.frame)
		if a.Type != "error" || a.Code != tt.code || !strings.Contains(a.Message, tt.text) {
			t.Errorf("answer to %v = %+v, want error %s mentioning %q", tt.frame, a, tt.code, tt.text)
		}
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("not json")); err != nil {
		t.Fatal(err)
	}
	if a := read(t, c); a.Code != "bad_request" {
		t.Fatalf("answer to non-JSON = %+v", a)
	}
	// Still open, and the subscription limit holds.
	for i, want := range []string{"subscribed", "subscribed", "error"} {
		a := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe/ch_1", "token": token("ch_1")})
		if a.Type != want || (want == "error" && a.Code != "too_many_subscriptions") {
			t.Fatalf("subscribe %d = %+v, want %s", i, a, want)
		}
	}
}

func TestWithoutTokensUnpinnedSelectorsAreBounded(t *testing.T) {
	f := start(t, Config{RequireToken: false, MaxUnpinned: 1})
	c := f.dial(t, nil)
	subscribe(t, c, map[string]string{"channel": "stripe", "selector": "type = 'charge.succeeded'"})
	if a := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": "livemode = FALSE"}); a.Code != "too_many_subscriptions" {
		t.Fatalf("second unpinned answer = %+v, want too_many_subscriptions", a)
	}
	if a := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = 'ch_9'"}); a.Type != "subscribed" {
		t.Fatalf("pinned answer = %+v", a)
	}
	f.hub.Publish(event("evt_1", "charge.succeeded", "ch_anything"))
	if m := read(t, c); m.Headers["event_id"] != "evt_1" {
		t.Fatalf("message = %+v", m)
	}
}

func TestOversizedFrameClosesWith1009(t *testing.T) {
	f := start(t, Config{MaxFrame: 512})
	c := f.dial(t, nil)
	if err := c.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("x", 2048))); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err := c.ReadMessage()
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("read after an oversized frame: %v, want close 1009", err)
	}
}

func TestOriginAllowList(t *testing.T) {
	f := start(t, Config{AllowedOrigins: []string{"https://shop.example"}})
	f.dial(t, http.Header{"Origin": {"https://shop.example"}})
	f.dial(t, nil) // not a browser
	_, resp, err := websocket.DefaultDialer.Dial(f.url, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from another origin: %v, want 403", err)
	}
	same := start(t, Config{})
	_, resp, err = websocket.DefaultDialer.Dial(same.url, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from another origin with no allow-list: %v, want 403", err)
	}
}

// TestSlowClientDoesNotDelayOthers: a client that stops reading fills its
// own queue and is dropped with CloseQueueOverflow; a reading client on the
// same id gets every event meanwhile.
func TestSlowClientDoesNotDelayOthers(t *testing.T) {
	// No pings: a client answering one while the server has already closed
	// would get a reset instead of the close frame (the slow client reads its
	// backlog long after the close was sent).
	f := start(t, Config{QueueSize: 16, WriteTimeout: 30 * time.Second, PingInterval: time.Hour})
	slow := f.dial(t, nil)
	fast := f.dial(t, nil)
	for _, c := range []*websocket.Conn{slow, fast} {
		subscribe(t, c, map[string]string{"channel": "stripe/ch_1"})
	}
	// Enough events (≈2 KB each) to fill the slow client's socket buffers
	// and then its queue; the fast client reads them all as they come.
	const n = 5000
	var read atomic.Int64
	got := make(chan error, 1)
	go func() {
		for i := range n {
			read.Store(int64(i))
			_ = fast.SetReadDeadline(time.Now().Add(30 * time.Second))
			var m serverFrame
			if err := fast.ReadJSON(&m); err != nil {
				got <- fmt.Errorf("fast client, message %d: %w", i, err)
				return
			}
			if want := fmt.Sprintf("evt_%d", i); m.Headers["event_id"] != want {
				got <- fmt.Errorf("fast client, message %d is %s, want %s", i, m.Headers["event_id"], want)
				return
			}
		}
		got <- nil
	}()
	for i := range n {
		f.hub.Publish(event(fmt.Sprintf("evt_%d", i), "charge.updated", "ch_1"))
		// Publish at the fast client's pace, within its own queue: only the
		// slow client can fall behind.
		deadline := time.Now().Add(30 * time.Second)
		for int64(i)-read.Load() > 8 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// The slow client now reads: what its socket held, then the close frame.
	_ = slow.SetReadDeadline(time.Now().Add(40 * time.Second))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, CloseQueueOverflow) {
			t.Fatalf("slow client ended with %v, want close %d", err, CloseQueueOverflow)
		}
		break
	}
	m := f.srv.cfg.Metrics
	// Every frame the fast client read was counted; the slow one's socket
	// took some too.
	testenv.Eventually(t, 5*time.Second, func() error {
		if got := testutil.ToFloat64(m.Deliveries); got < n {
			return fmt.Errorf("notifier_deliveries_total = %v, want at least %d", got, n)
		}
		return nil
	})
}

func TestShutdownSendsGoingAway(t *testing.T) {
	f := start(t, Config{})
	cs := []*websocket.Conn{f.dial(t, nil), f.dial(t, nil)}
	for f.srv.Connections() < 2 {
		time.Sleep(10 * time.Millisecond)
	}
	f.cancel()
	for _, c := range cs {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, _, err := c.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("read during shutdown: %v, want close 1001", err)
		}
	}
	select {
	case <-f.done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its connections closed")
	}
	if n := f.srv.Connections(); n != 0 {
		t.Fatalf("%d connections left after shutdown", n)
	}
}

// TestKeepAlive: a client that answers pings stays; one silent for two ping
// intervals is dropped.
func TestKeepAlive(t *testing.T) {
	// Two intervals without a pong drop a client: 500 ms leaves the
	// answering client a second, even on a machine busy with other tests.
	const interval = 500 * time.Millisecond
	f := start(t, Config{PingInterval: interval})
	alive := f.dial(t, nil)
	go func() {
		for { // reading lets gorilla answer the pings
			if _, _, err := alive.ReadMessage(); err != nil {
				return
			}
		}
	}()
	f.dial(t, nil) // never reads, so never answers a ping
	deadline := time.Now().Add(20 * time.Second)
	for f.srv.Connections() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want the silent one dropped", f.srv.Connections())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(5 * interval) // five more intervals: the answering client stays
	if n := f.srv.Connections(); n != 1 {
		t.Fatalf("%d connections after pings were answered, want 1", n)
	}
}

// A refused frame is logged at info with its code and reason; the same
// refusal repeated at once is not logged again.
func TestRefusalsAreLoggedOnce(t *testing.T) {
	var logs testenv.Buffer
	h := hub.New(hub.Config{Window: time.Minute})
	s := NewServer(Config{TokenKeys: keys}, h, slog.New(slog.NewTextHandler(&logs, nil)))
	ts := httptest.NewServer(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = s.Run(ctx, time.Second); close(done) }()
	defer func() { cancel(); <-done; ts.Close() }()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 5 {
		if err := c.WriteMessage(websocket.TextMessage, []byte("not json")); err != nil {
			t.Fatal(err)
		}
		if f := read(t, c); f.Type != "error" || f.Code != "bad_request" {
			t.Fatalf("frame %+v, want an error bad_request", f)
		}
	}
	out := logs.String()
	if n := strings.Count(out, "websocket frame refused"); n != 1 || !strings.Contains(out, "level=INFO") || !strings.Contains(out, "code=bad_request") {
		t.Fatalf("want one info line with the code for five refusals, got %d:\n%s", n, out)
	}
}
