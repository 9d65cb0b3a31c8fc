package ws

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialRefused dials and expects the connection to be closed at once with
// code, a reason naming setting, and the refusal counted under l.
func (f *fixture) dialRefused(t *testing.T, header http.Header, l Limit, code int, setting string) {
	t.Helper()
	before := f.srv.Refused(l)
	c, _, err := websocket.DefaultDialer.Dial(f.url, header)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, _, err = c.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != code || !strings.Contains(ce.Text, setting) {
		t.Fatalf("read on a refused connection: %v, want close %d naming %s", err, code, setting)
	}
	if got := f.srv.Refused(l); got != before+1 {
		t.Fatalf("refusals by %s: %d, want %d", l, got, before+1)
	}
}

func (f *fixture) waitConnections(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for f.srv.Connections() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections, want %d", f.srv.Connections(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTotalConnectionsLimit(t *testing.T) {
	f := start(t, Config{MaxConnections: 2})
	first := f.dial(t, nil)
	f.dial(t, nil)
	f.waitConnections(t, 2)
	f.dialRefused(t, nil, LimitConnections, CloseTryAgainLater, "NOTIFIER_HTTP_MAX_CONNECTIONS")
	first.Close()
	f.waitConnections(t, 1)
	f.dial(t, nil)
	f.waitConnections(t, 2)
}

// TestConnectionsPerAddress: the address is the TCP peer's, or, from a
// trusted proxy, the one X-Forwarded-For names.
func TestConnectionsPerAddress(t *testing.T) {
	from := func(addr string) http.Header { return http.Header{"X-Forwarded-For": {addr}} }
	behindProxy := start(t, Config{MaxConnectionsPerAddress: 2, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	first := behindProxy.dial(t, from("203.0.113.1"))
	behindProxy.dial(t, from("203.0.113.1"))
	behindProxy.dialRefused(t, from("203.0.113.1"), LimitConnectionsPerAddr, CloseTooManyConnections, "NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS")
	behindProxy.dial(t, from("203.0.113.2")) // another client behind the same proxy
	first.Close()
	behindProxy.waitConnections(t, 2)
	behindProxy.dial(t, from("203.0.113.1"))

	direct := start(t, Config{MaxConnectionsPerAddress: 1})
	direct.dial(t, from("203.0.113.1"))
	// Not from a trusted proxy: the header is the client's word, not believed.
	direct.dialRefused(t, from("203.0.113.9"), LimitConnectionsPerAddr, CloseTooManyConnections, "NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS")
}

func TestConnectionsPerID(t *testing.T) {
	f := start(t, Config{RequireToken: true, MaxConnectionsPerID: 2})
	sub := map[string]string{"type": "subscribe", "channel": "stripe/ch_1", "token": token("ch_1")}
	a, b, c := f.dial(t, nil), f.dial(t, nil), f.dial(t, nil)
	subscribe(t, a, sub)
	subscribe(t, a, map[string]string{"channel": "stripe", "selector": "id = 'ch_1' AND type = 'charge.refunded'", "token": token("ch_1")}) // one connection counts once
	subscribe(t, b, sub)
	before := f.srv.Refused(LimitConnectionsPerID)
	if r := request(t, c, sub); r.Code != "too_many_connections" || !strings.Contains(r.Message, "NOTIFIER_MAX_CONNECTIONS_PER_ID") {
		t.Fatalf("third connection on ch_1: %+v, want too_many_connections", r)
	}
	if got := f.srv.Refused(LimitConnectionsPerID); got != before+1 {
		t.Fatalf("refusals %d, want %d", got, before+1)
	}
	subscribe(t, c, map[string]string{"channel": "stripe/ch_2", "token": token("ch_2")})
	for _, s := range []string{"s1", "s2"} {
		if r := request(t, a, map[string]string{"type": "unsubscribe", "subscription": s}); r.Type != "unsubscribed" {
			t.Fatalf("unsubscribe %s: %+v", s, r)
		}
	}
	subscribe(t, c, sub)
}

func TestSelectorSize(t *testing.T) {
	f := start(t, Config{RequireToken: true, MaxSelectorValues: 100, MaxSelectorNodes: 64})
	c := f.dial(t, nil)
	list := func(n int) string {
		var v []string
		for i := range n {
			v = append(v, fmt.Sprintf("'t%d'", i))
		}
		return "type IN (" + strings.Join(v, ",") + ")"
	}
	var ors []string
	for i := range 40 {
		ors = append(ors, fmt.Sprintf("type = 't%d'", i))
	}
	for name, sel := range map[string]string{
		// Each IN list is within the parser's 100, together over the limit.
		"values": "id = 'ch_1' AND (" + list(60) + " OR " + list(60) + ")",
		"nodes":  "id = 'ch_1' AND (" + strings.Join(ors, " OR ") + ")",
	} {
		before := f.srv.Refused(LimitSelectorSize)
		r := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": sel, "token": token("ch_1")})
		if r.Code != "selector_too_large" || !strings.Contains(r.Message, "NOTIFIER_MAX_SELECTOR_") {
			t.Errorf("%s: answer %+v, want selector_too_large", name, r)
		}
		if f.srv.Refused(LimitSelectorSize) != before+1 {
			t.Errorf("%s: refusal not counted", name)
		}
	}
	subscribe(t, c, map[string]string{"channel": "stripe", "selector": "id = 'ch_1' AND " + list(99), "token": token("ch_1")})
}

// TestConnectionBytesAtSubscribe: subscriptions and selectors count against
// NOTIFIER_MAX_CONNECTION_BYTES; the one that would pass it is refused and
// the connection stays.
func TestConnectionBytesAtSubscribe(t *testing.T) {
	f := start(t, Config{MaxConnectionBytes: 16 << 10, MaxUnpinned: 100})
	c := f.dial(t, nil)
	var values []string
	for i := range 100 {
		values = append(values, fmt.Sprintf("'evt_%010d'", i))
	}
	sel := "event_id IN (" + strings.Join(values, ",") + ")"
	for i := range 100 {
		r := request(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": sel})
		if r.Type == "subscribed" {
			continue
		}
		if r.Code != "too_many_bytes" || !strings.Contains(r.Message, "NOTIFIER_MAX_CONNECTION_BYTES") || i == 0 {
			t.Fatalf("subscribe %d: %+v, want too_many_bytes after a few", i, r)
		}
		if f.srv.Refused(LimitConnectionBytes) != 1 {
			t.Fatal("refusal not counted")
		}
		if r := request(t, c, map[string]string{"type": "ping"}); r.Type != "pong" {
			t.Fatalf("after the refusal: %+v", r)
		}
		return
	}
	t.Fatal("100 subscriptions of 100 values each fit in 16 KiB")
}

// TestQueuedBytesCloseSlowClient: a client that does not read is closed
// with 4008 once its queued frames pass NOTIFIER_MAX_CONNECTION_BYTES, long
// before NOTIFIER_SEND_QUEUE frames.
func TestQueuedBytesCloseSlowClient(t *testing.T) {
	// No pings: a client answering one while the server has already closed
	// would get a reset instead of the close frame.
	f := start(t, Config{QueueSize: 1 << 20, MaxConnectionBytes: 64 << 10, PingInterval: time.Hour, WriteTimeout: 30 * time.Second})
	slow := f.dial(t, nil)
	subscribe(t, slow, map[string]string{"channel": "stripe/ch_1"})
	for i := 0; f.srv.Refused(LimitSendQueue) == 0; i++ {
		if i == 100_000 {
			t.Fatal("100,000 events of 2 KB queued for a client that does not read")
		}
		f.hub.Publish(event(fmt.Sprintf("evt_%d", i), "charge.updated", "ch_1"))
	}
	_ = slow.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		_, _, err := slow.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != CloseQueueOverflow || !strings.Contains(ce.Text, "NOTIFIER_MAX_CONNECTION_BYTES") {
			t.Fatalf("slow client ended with %v, want close %d naming NOTIFIER_MAX_CONNECTION_BYTES", err, CloseQueueOverflow)
		}
		return
	}
}
