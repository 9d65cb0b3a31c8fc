package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/tools/devstack"
)

// notifierChargeEvent is a charge.succeeded of a transaction of the test's
// own, related to a payment intent of its own.
func notifierChargeEvent(t *testing.T) (txID, piID string, evt signedEvent) {
	t.Helper()
	txID = "ch_n_" + devstack.RandomHex(6)
	piID = "pi_n_" + devstack.RandomHex(6)
	raw := fmt.Sprintf(`{"id":"ch_x","object":"charge","amount":2000,"currency":"usd","payment_intent":%q}`, piID)
	return txID, piID, chargeEvent(t, []byte(raw), txID, "charge.succeeded")
}

func expectEvent(t *testing.T, c *websocket.Conn, sub, eventID string) {
	t.Helper()
	m := readMessage(t, c)
	if m.Subscription != sub || m.Headers["event_id"] != eventID {
		t.Fatalf("message subscription %s event %s, want %s %s", m.Subscription, m.Headers["event_id"], sub, eventID)
	}
}

// TestWebhookBeforeSubscribeIsDelivered: the webhook beats the client by 2 s;
// the client still gets the event, once, from the recent window — by the
// payment intent id too (a related id).
func TestWebhookBeforeSubscribeIsDelivered(t *testing.T) {
	txID, piID, evt := notifierChargeEvent(t)
	postWebhook(t, evt.body, http.StatusOK)
	time.Sleep(2 * time.Second) // the scenario: the client subscribes late

	ws := dial(t)
	sub := subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe", "selector": fmt.Sprintf("id = '%s'", txID), "token": mintToken(t, txID)})
	expectEvent(t, ws, sub, evt.id)
	subPI := subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe", "selector": fmt.Sprintf("id = '%s' AND type = 'charge.succeeded'", piID), "token": mintToken(t, piID)})
	expectEvent(t, ws, subPI, evt.id)
	// No duplicate: the next frame is the answer to a request, not the event again.
	send(t, ws, map[string]string{"type": "unsubscribe", "subscription": sub})
	var f struct{ Type, Subscription string }
	readJSON(t, ws, &f)
	if f.Type != "unsubscribed" {
		t.Fatalf("frame after the replay = %+v, want the unsubscribe answer", f)
	}
}

// TestRestartedNotifierRebuildsWindow: the notifier restarts between the
// webhook and the subscribe; the new process reads the window back from
// Kafka before it reports ready, so the event is still delivered.
func TestRestartedNotifierRebuildsWindow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	txID, _, evt := notifierChargeEvent(t)
	postWebhook(t, evt.body, http.StatusOK)

	if err := stack.Service("notifier").Stop(15 * time.Second); err != nil {
		t.Fatalf("notifier did not stop cleanly: %v", err)
	}
	if err := stack.StartService(ctx, "notifier"); err != nil {
		t.Fatal(err)
	}
	ws := dial(t)
	sub := subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + txID, "token": mintToken(t, txID)})
	expectEvent(t, ws, sub, evt.id)
}

// TestTokenRefusals: expired and forged tokens are refused with an error
// frame, and the connection stays usable.
func TestTokenRefusals(t *testing.T) {
	ws := dial(t)
	id := "ch_t_" + devstack.RandomHex(4)
	for name, tok := range map[string]string{
		"expired": subtoken.Sign([]byte(stack.Config.SubscriptionTokenSecret), id, time.Now().Add(-time.Minute)),
		"forged":  subtoken.Sign([]byte("not the secret the api shares"), id, time.Now().Add(time.Hour)),
		"none":    "",
	} {
		send(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + id, "token": tok})
		var f struct{ Type, Code, Message string }
		readJSON(t, ws, &f)
		if f.Type != "error" || f.Code != "unauthorized" {
			t.Errorf("%s token: answer %+v, want an unauthorized error", name, f)
		}
	}
	// A selector that pins no id cannot be authorized by a one-transaction token.
	send(t, ws, map[string]string{"type": "subscribe", "channel": "stripe", "selector": "type = 'charge.succeeded'", "token": mintToken(t, id)})
	var f struct{ Type, Code string }
	readJSON(t, ws, &f)
	if f.Code != "unauthorized" {
		t.Errorf("unpinned selector with a token: answer %+v, want unauthorized", f)
	}
	subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + id, "token": mintToken(t, id)})
}

// TestTwoNotifierInstances: a second instance, behind the same "load
// balancer", sees every partition too; on SIGTERM it sends its clients
// close 1001 and exits cleanly.
func TestTwoNotifierInstances(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	second, addr := startNotifier(ctx, t, "notifier-2")
	// Many transactions, so their events spread over the partitions.
	type client struct {
		conn *websocket.Conn
		sub  string
		evt  signedEvent
	}
	var clients []client
	for i := range 8 {
		txID, _, evt := notifierChargeEvent(t)
		url := "ws://" + stack.Config.Addrs["notifier"] + "/ws"
		if i%2 == 1 {
			url = "ws://" + addr + "/ws"
		}
		c, _, err := websocket.DefaultDialer.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		sub := subscribe(t, c, map[string]string{"type": "subscribe", "channel": "stripe/" + txID, "token": mintToken(t, txID)})
		clients = append(clients, client{c, sub, evt})
	}
	for _, c := range clients {
		postWebhook(t, c.evt.body, http.StatusOK)
	}
	for _, c := range clients {
		expectEvent(t, c.conn, c.sub, c.evt.id)
	}

	if err := second.Stop(15 * time.Second); err != nil {
		t.Fatalf("second notifier did not exit cleanly on SIGTERM: %v", err)
	}
	for i, c := range clients {
		if i%2 == 0 {
			continue
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		_, _, err := c.conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway {
			t.Fatalf("client of the stopped instance read %v, want close 1001", err)
		}
	}
}

// startNotifier starts another notifier instance of the stack, as a second
// replica behind the same load balancer, and waits until it is ready.
func startNotifier(ctx context.Context, t *testing.T, name string) (*devstack.Process, string) {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	opsAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	p, err := devstack.Start(devstack.ProcessConfig{
		Name: name,
		Path: filepath.Join(stack.Config.BinDir, "notifier"),
		Env:  devstack.OnlyItsSecrets("notifier", append(stack.Env(), "NOTIFIER_ADDR="+addr, "NOTIFIER_OPS_ADDR="+opsAddr)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-p.Done():
		default:
			p.Kill()
		}
	})
	if err := devstack.WaitReady(ctx, p, "http://"+opsAddr+"/readyz"); err != nil {
		t.Fatal(err)
	}
	return p, addr
}
