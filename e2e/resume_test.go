package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/tools/devstack"
)

// positioned is a frame with the subscription's position.
type positioned struct {
	Type, Subscription, Code string
	Headers                  map[string]string
	Position                 []int64
	Recovered                *bool
}

func readPositioned(t *testing.T, c *websocket.Conn) positioned {
	t.Helper()
	var f positioned
	readJSON(t, c, &f)
	return f
}

// resumeScenario: a client on the notifier at firstURL subscribes to a
// transaction and reads its first event; it goes away; the second event
// is posted while between (during which between runs: a restart, nothing);
// it resumes on secondURL (a func: the address may change) with the
// position of the last frame it read, and gets exactly the second event.
func resumeScenario(t *testing.T, firstURL string, between func(), secondURL func() string) {
	t.Helper()
	txID := "ch_r_" + devstack.RandomHex(6)
	first := chargeEvent(t, []byte(`{"object":"charge","amount":100}`), txID, "charge.succeeded")
	second := chargeEvent(t, []byte(`{"object":"charge","amount":100}`), txID, "charge.refunded")

	c, _, err := websocket.DefaultDialer.Dial(firstURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	send(t, c, map[string]string{"type": "subscribe", "channel": "stripe/" + txID, "token": mintToken(t, txID)})
	if f := readPositioned(t, c); f.Type != "subscribed" || f.Position == nil {
		t.Fatalf("subscribe answer %+v, want subscribed with a position", f)
	}
	postWebhook(t, first.body, http.StatusOK)
	m := readPositioned(t, c)
	if m.Type != "message" || m.Headers["event_id"] != first.id || len(m.Position) == 0 {
		t.Fatalf("frame %+v, want %s with a position", m, first.id)
	}
	c.Close()

	postWebhook(t, second.body, http.StatusOK)
	between()

	r, _, err := websocket.DefaultDialer.Dial(secondURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	send(t, r, map[string]any{"type": "subscribe", "channel": "stripe/" + txID, "token": mintToken(t, txID), "position": m.Position})
	if f := readPositioned(t, r); f.Type != "subscribed" || f.Recovered == nil || !*f.Recovered {
		t.Fatalf("resume answer %+v, want subscribed and recovered", f)
	}
	if f := readPositioned(t, r); f.Type != "message" || f.Headers["event_id"] != second.id {
		t.Fatalf("after the resume: %+v, want only %s", f, second.id)
	}
	// Nothing doubled: the next frame answers a ping.
	send(t, r, map[string]string{"type": "ping"})
	if f := readPositioned(t, r); f.Type != "pong" {
		t.Fatalf("frame %+v after the missed event, want pong", f)
	}
}

// TestResumeAcrossRestart: the event posted while the notifier restarted
// is replayed from the position the client had, and only it.
func TestResumeAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := func() string { return "ws://" + stack.Config.Addrs["notifier"] + "/ws" }
	resumeScenario(t, url(), func() {
		if err := stack.Service("notifier").Stop(15 * time.Second); err != nil {
			t.Fatalf("notifier did not stop cleanly: %v", err)
		}
		if err := stack.StartService(ctx, "notifier"); err != nil {
			t.Fatal(err)
		}
	}, url)
}

// TestResumeOnAnotherInstance: a client that subscribed on one instance
// resumes on another with the position the first gave it.
func TestResumeOnAnotherInstance(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, addr := startNotifier(ctx, t, "notifier-resume")
	resumeScenario(t, "ws://"+stack.Config.Addrs["notifier"]+"/ws", func() {}, func() string { return "ws://" + addr + "/ws" })
}

// TestRefreshTokenThroughTheAPI: a token about to expire is traded at the
// api for a newer one, which the client sends in a refresh frame; the
// subscription outlives the first token and still gets its events.
func TestRefreshTokenThroughTheAPI(t *testing.T) {
	txID, _, evt := notifierChargeEvent(t)
	end := time.Now().Add(3 * time.Second)
	short := subtoken.Sign([]byte(stack.Config.SubscriptionTokenSecret), txID, end)
	ws := dial(t)
	sub := subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + txID, "token": short})

	var renewed struct {
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	postJSON(t, stack.URL("api")+"/Stripe/subscription-tokens", fmt.Sprintf(`{"id":%q,"token":%q}`, txID, short), &renewed)
	send(t, ws, map[string]string{"type": "refresh", "subscription": sub, "token": renewed.Token})
	var f struct {
		Type, Subscription string
		ExpiresAt          time.Time `json:"expires_at"`
	}
	readJSON(t, ws, &f)
	if f.Type != "refreshed" || !f.ExpiresAt.Equal(renewed.ExpiresAt) {
		t.Fatalf("refresh answer %+v, want refreshed until %v", f, renewed.ExpiresAt)
	}
	time.Sleep(time.Until(end) + 2*time.Second) // the scenario: the first token is over
	postWebhook(t, evt.body, http.StatusOK)
	expectEvent(t, ws, sub, evt.id)
}
