package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

func mintToken(t *testing.T, id string) string {
	t.Helper()
	return subtoken.Sign([]byte(stack.Config.SubscriptionTokenSecret), id, time.Now().Add(time.Hour))
}

func dial(t *testing.T) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws://"+stack.Config.Addrs["notifier"]+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

func readJSON(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read websocket: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("frame %s: %v", b, err)
	}
}

// subscribe sends a subscribe frame and returns the subscription id.
func subscribe(t *testing.T, c *websocket.Conn, frame map[string]string) string {
	t.Helper()
	send(t, c, frame)
	var f struct{ Type, Subscription, Code, Message string }
	readJSON(t, c, &f)
	if f.Type != "subscribed" || f.Subscription == "" {
		t.Fatalf("answer to %v = %+v, want subscribed", frame, f)
	}
	return f.Subscription
}

type messageFrame struct {
	Type         string            `json:"type"`
	Subscription string            `json:"subscription"`
	Channel      string            `json:"channel"`
	Headers      map[string]string `json:"headers"`
	Data         json.RawMessage   `json:"data"`
}

func readMessage(t *testing.T, c *websocket.Conn) messageFrame {
	t.Helper()
	var m messageFrame
	readJSON(t, c, &m)
	if m.Type != "message" {
		t.Fatalf("frame type %q, want message", m.Type)
	}
	return m
}
