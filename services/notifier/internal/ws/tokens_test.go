package ws

import (
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
)

// TestTokenExpiryAndRefresh: two subscriptions whose tokens end at the same
// second; one is refreshed with a newer token of its id and lives on, the
// other ends with an error frame token_expired naming it, and gets nothing
// more.
func TestTokenExpiryAndRefresh(t *testing.T) {
	f := start(t, Config{RequireToken: true})
	c := f.dial(t, nil)
	end := time.Now().Add(2 * time.Second)
	short := subtoken.Sign(secret, "ch_1", end)
	subscribe(t, c, map[string]string{"channel": "stripe/ch_1", "token": short})                                       // s1
	subscribe(t, c, map[string]string{"channel": "stripe", "selector": "id = 'ch_1' AND type <> 'x'", "token": short}) // s2

	for _, bad := range []struct {
		frame map[string]string
		code  string
	}{
		{map[string]string{"type": "refresh", "subscription": "s1", "token": token("ch_2")}, "unauthorized"}, // another id's token
		{map[string]string{"type": "refresh", "subscription": "s1", "token": "nonsense"}, "unauthorized"},
		{map[string]string{"type": "refresh", "subscription": "s9", "token": token("ch_1")}, "unknown_subscription"},
	} {
		if r := request(t, c, bad.frame); r.Code != bad.code {
			t.Fatalf("refresh %v: %+v, want %s", bad.frame, r, bad.code)
		}
	}
	newer := subtoken.Sign(secret, "ch_1", time.Now().Add(time.Hour))
	var refreshed struct {
		Type, Subscription string
		ExpiresAt          time.Time `json:"expires_at"`
	}
	if err := c.WriteJSON(map[string]string{"type": "refresh", "subscription": "s1", "token": newer}); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := c.ReadJSON(&refreshed); err != nil || refreshed.Type != "refreshed" || refreshed.Subscription != "s1" || time.Until(refreshed.ExpiresAt) < 50*time.Minute {
		t.Fatalf("refresh answer %+v (%v)", refreshed, err)
	}

	// The sweep ends s2 at its expiry; s1, due at the same second, stays.
	var expired serverFrame
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if err := c.ReadJSON(&expired); err != nil || expired.Type != "error" || expired.Code != "token_expired" || expired.Subscription != "s2" {
		t.Fatalf("frame %+v (%v), want token_expired for s2", expired, err)
	}
	if !strings.Contains(expired.Message, "refresh") {
		t.Errorf("message %q does not say how to keep a subscription", expired.Message)
	}
	f.hub.Publish(event("evt_1", "charge.succeeded", "ch_1"))
	if m := read(t, c); m.Type != "message" || m.Subscription != "s1" {
		t.Fatalf("after the expiry: %+v, want the event on s1", m)
	}
	// Nothing for s2: the next frame is the answer to a ping.
	if r := request(t, c, map[string]string{"type": "ping"}); r.Type != "pong" {
		t.Fatalf("frame %+v, want pong", r)
	}
	if r := request(t, c, map[string]string{"type": "unsubscribe", "subscription": "s2"}); r.Code != "unknown_subscription" {
		t.Fatalf("unsubscribe of the expired s2: %+v", r)
	}
	if n := f.srv.expiries.len(); n != 1 {
		t.Fatalf("%d subscriptions scheduled to expire, want 1 (s1)", n)
	}
}

// TestRolledSecrets: the notifier verifies tokens of every key of the
// setting, and those of the single-secret form.
func TestRolledSecrets(t *testing.T) {
	old := string(secret)
	rolled, err := subtoken.ParseKeys("new:" + strings.Repeat("n", 32) + ",old:" + old)
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, Config{RequireToken: true, TokenKeys: rolled})
	c := f.dial(t, nil)
	exp := time.Now().Add(time.Hour)
	for _, tok := range []string{subtoken.Sign(secret, "ch_1", exp), rolled.Sign("ch_1", exp), rolled[1:].Sign("ch_1", exp)} {
		subscribe(t, c, map[string]string{"channel": "stripe/ch_1", "token": tok})
	}
}
