package ws

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestBadInputNeverStallsOthers: a client sends every kind of bad input, and
// then floods subscribes without reading the answers. Each bad frame gets an
// error frame naming the problem; the flood ends with the client's own close
// (4008); meanwhile a well-behaved client on the same instance gets every
// event.
func TestBadInputNeverStallsOthers(t *testing.T) {
	f := start(t, Config{RequireToken: true, QueueSize: 64, PingInterval: time.Hour})
	good := f.dial(t, nil)
	subscribe(t, good, map[string]string{"channel": "stripe/ch_good", "token": token("ch_good")})

	bad := f.dial(t, nil)
	nested := strings.Repeat("(", 40) + "id = 'ch_1'" + strings.Repeat(")", 40)
	for _, tc := range []struct {
		frame      string
		code, text string
	}{
		{"not json", "bad_request", "not a JSON object"},
		{`["subscribe"]`, "bad_request", "not a JSON object"},
		{strings.Repeat("[", 2000) + strings.Repeat("]", 2000), "bad_request", "not a JSON object"},
		{`{"type":"subscribe","channel":7}`, "bad_request", "not a JSON object"},
		{`{"type":"teleport"}`, "bad_request", "subscribe, unsubscribe, refresh or ping"},
		{`{}`, "bad_request", "subscribe, unsubscribe, refresh or ping"},
		{`{"type":"subscribe","channel":"stripe","selector":"` + nested + `","token":"` + token("ch_1") + `"}`, "bad_selector", "nested deeper"},
		{`{"type":"subscribe","channel":"stripe","selector":"id = '` + strings.Repeat("x", 2100) + `'"}`, "bad_selector", "longer than 2048"},
		{`{"type":"refresh","subscription":"s1","token":"` + token("ch_1") + `"}`, "unknown_subscription", "s1"},
	} {
		if err := bad.WriteMessage(websocket.TextMessage, []byte(tc.frame)); err != nil {
			t.Fatal(err)
		}
		if a := read(t, bad); a.Type != "error" || a.Code != tc.code || !strings.Contains(a.Message, tc.text) {
			t.Errorf("answer to %.60q = %+v, want %s mentioning %q", tc.frame, a, tc.code, tc.text)
		}
	}
	// A refresh with another id's token is refused; the subscription stays.
	subscribe(t, bad, map[string]string{"channel": "stripe/ch_1", "token": token("ch_1")})
	if a := request(t, bad, map[string]string{"type": "refresh", "subscription": "s1", "token": token("ch_good")}); a.Code != "unauthorized" || !strings.Contains(a.Message, "another transaction") {
		t.Errorf("refresh with another id's token: %+v", a)
	}

	// The flood: subscribes and unsubscribes, never reading an answer.
	flood := []byte(`{"type":"subscribe","channel":"stripe/ch_1","token":"` + token("ch_1") + `"}`)
	unsub := []byte(`{"type":"unsubscribe","subscription":"s2"}`)
	done := make(chan error, 1)
	go func() {
		for i := range 20_000 {
			msg := flood
			if i%2 == 1 {
				msg = unsub
			}
			if err := bad.WriteMessage(websocket.TextMessage, msg); err != nil {
				done <- nil // closed by the server: the flood is over
				return
			}
		}
		done <- nil
	}()
	for i := range 50 {
		f.hub.Publish(event(fmt.Sprint("evt_", i), "charge.succeeded", "ch_good"))
		if m := read(t, good); m.Type != "message" || m.Headers["event_id"] != fmt.Sprint("evt_", i) {
			t.Fatalf("good client, event %d: %+v", i, m)
		}
	}
	<-done
	_ = bad.SetReadDeadline(time.Now().Add(60 * time.Second))
	for {
		if _, _, err := bad.ReadMessage(); err != nil {
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != CloseQueueOverflow {
				t.Fatalf("the flooding client ended with %v, want close %d", err, CloseQueueOverflow)
			}
			break
		}
	}
	if a := request(t, good, map[string]string{"type": "ping"}); a.Type != "pong" {
		t.Fatalf("good client after the flood: %+v", a)
	}
}

// serverFrameTypes are every frame type the server sends.
var serverFrameTypes = []string{"subscribed", "unsubscribed", "refreshed", "pong", "error", "message"}

// FuzzFrameHandler sends each input as a client frame, then a ping: the
// connection must answer with well-formed frames up to the pong, or close
// with a code the protocol names; never panic (that would end the test
// binary) and never stall. `go test` runs the seeds; `go test -fuzz
// FuzzFrameHandler ./services/notifier/internal/ws/` explores.
func FuzzFrameHandler(f *testing.F) {
	tok := token("ch_1")
	for _, seed := range []string{
		`{"type":"subscribe","channel":"stripe/ch_1","token":"` + tok + `"}`,
		`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_1' AND type IN ('a','b')","token":"` + tok + `"}`,
		`{"type":"subscribe","channel":"stripe","selector":"type = 'charge.succeeded'"}`,
		`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_1' AND (type = 'a' OR NOT livemode = TRUE)"}`,
		`{"type":"unsubscribe","subscription":"s1"}`,
		`{"type":"refresh","subscription":"s1","token":"` + tok + `"}`,
		`{"type":"ping"}`,
		`{"type":"subscribe","channel":"stripe","selector":"((((id = 'x'"}`,
		`{"type":"subscribe","channel":"stripe/"}`,
		`{"type":null,"channel":[],"selector":{}}`,
		`{"type":"subscribe","channel":"stripe","selector":"id = '\u0000'"}`,
		"\xff\xfe\xfd",
		"",
		"null",
		`"subscribe"`,
	} {
		f.Add([]byte(seed))
	}
	fx := start(f, Config{RequireToken: false, MaxSubscriptions: 4, MaxUnpinned: 2, MaxFrame: 1024, PingInterval: time.Hour})
	f.Fuzz(func(t *testing.T, in []byte) {
		c := fx.dial(t, nil)
		if err := c.WriteMessage(websocket.TextMessage, in); err != nil {
			t.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			_, b, err := c.ReadMessage()
			var ce *websocket.CloseError
			switch {
			case errors.As(err, &ce) && ce.Code == websocket.CloseMessageTooBig && len(in) > 1024:
				return
			case err != nil:
				t.Fatalf("input %q: read: %v", in, err)
			}
			var fr struct{ Type, Code string }
			if err := json.Unmarshal(b, &fr); err != nil || !slices.Contains(serverFrameTypes, fr.Type) || (fr.Type == "error" && fr.Code == "") {
				t.Fatalf("input %q: frame %s is not one the protocol names (%v)", in, b, err)
			}
			if fr.Type == "pong" {
				return
			}
		}
	})
}
