package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/jackc/pgx/v5"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
)

type chargeResponse struct {
	ID        string `json:"id"`
	Object    string `json:"object"`
	Amount    int64  `json:"amount"`
	Subscribe struct {
		Channel  string `json:"channel"`
		Selector string `json:"selector"`
		Token    string `json:"token"`
	} `json:"subscribe"`
}

// TestOnePaymentEndToEnd is the seed's flow: charge, subscribe, webhook,
// websocket message, one row — and one row still after a redelivery.
func TestOnePaymentEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var charge chargeResponse
	chargeRaw := postJSON(t, stack.URL("api")+"/Stripe/charge", `{"token":"tok_visa","amount":2000}`, &charge)
	if charge.Object != "charge" || charge.Amount != 2000 || !strings.HasPrefix(charge.ID, "ch_") {
		t.Fatalf("charge response = %+v", charge)
	}
	if want := fmt.Sprintf("id = '%s'", charge.ID); charge.Subscribe.Selector != want || charge.Subscribe.Channel != "stripe" || charge.Subscribe.Token == "" {
		t.Fatalf("subscribe block = %+v, want channel stripe, selector %q and a token", charge.Subscribe, want)
	}
	// stripe-mock answers every charge with the same fixture id; make the
	// transaction this test's own so parallel runs cannot cross.
	txID := charge.ID + "_" + devstack.RandomHex(4)
	token := mintToken(t, txID)

	ws := dial(t)
	sub := subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe", "selector": fmt.Sprintf("id = '%s'", txID), "token": token})
	ws2 := dial(t)
	sub2 := subscribe(t, ws2, map[string]string{"type": "subscribe", "channel": "stripe/" + txID, "token": token})

	evt := chargeEvent(t, chargeRaw, txID, "charge.succeeded")
	postWebhook(t, evt.body, http.StatusOK)

	for _, c := range []struct {
		conn    *websocket.Conn
		sub     string
		channel string
	}{{ws, sub, "stripe"}, {ws2, sub2, "stripe/" + txID}} {
		msg := readMessage(t, c.conn)
		if msg.Subscription != c.sub || msg.Channel != c.channel {
			t.Errorf("message frame subscription/channel = %s/%s, want %s/%s", msg.Subscription, msg.Channel, c.sub, c.channel)
		}
		if msg.Headers["event_id"] != evt.id || msg.Headers["object_id"] != txID || msg.Headers["event_type"] != "charge.succeeded" {
			t.Errorf("message headers = %v", msg.Headers)
		}
		if !bytes.Equal(compact(t, msg.Data), compact(t, evt.body)) {
			t.Errorf("message data is not the event as Stripe sent it")
		}
	}

	waitRows(ctx, t, evt.id, 1)

	// Stripe redelivers: the same event again is accepted and still one row.
	postWebhook(t, evt.body, http.StatusOK)
	// A later event of the same transaction lands on the same partition after
	// the redelivery; once it is stored, the redelivery has been handled too.
	later := chargeEvent(t, chargeRaw, txID, "charge.updated")
	postWebhook(t, later.body, http.StatusOK)
	waitRows(ctx, t, later.id, 1)
	if n := countRows(ctx, t, evt.id); n != 1 {
		t.Fatalf("rows for %s after a redelivery = %d, want 1", evt.id, n)
	}
	var id, typ string
	if err := pgConn(ctx, t).QueryRow(ctx, "SELECT id, type FROM stripe_events WHERE event_id = $1", evt.id).Scan(&id, &typ); err != nil {
		t.Fatal(err)
	}
	if id != txID || typ != "charge.succeeded" {
		t.Fatalf("row id/type = %s/%s, want %s/charge.succeeded", id, typ, txID)
	}
}

// TestSubscriptionNeedsTokenForItsID: a token for one transaction does not
// open another's events.
func TestSubscriptionNeedsTokenForItsID(t *testing.T) {
	ws := dial(t)
	a, b := "ch_A_"+devstack.RandomHex(4), "ch_B_"+devstack.RandomHex(4)
	send(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + b, "token": mintToken(t, a)})
	var f struct{ Type, Code string }
	readJSON(t, ws, &f)
	if f.Type != "error" || f.Code != "unauthorized" {
		t.Fatalf("frame = %+v, want an unauthorized error", f)
	}
	// The connection stays open for a correct request.
	subscribe(t, ws, map[string]string{"type": "subscribe", "channel": "stripe/" + b, "token": mintToken(t, b)})
}

type signedEvent struct {
	id   string
	body []byte
}

// chargeEvent wraps the charge stripe-mock returned in a Stripe event, the way
// Stripe's webhook would carry it.
func chargeEvent(t *testing.T, chargeRaw []byte, txID, typ string) signedEvent {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal(chargeRaw, &obj); err != nil {
		t.Fatal(err)
	}
	delete(obj, "subscribe")
	obj["id"] = txID
	id := "evt_" + devstack.RandomHex(12)
	body, err := json.Marshal(map[string]any{
		"id": id, "object": "event", "api_version": "2023-10-16", "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "type": typ,
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data":    map[string]any{"object": obj},
	})
	if err != nil {
		t.Fatal(err)
	}
	return signedEvent{id: id, body: body}
}

func postWebhook(t *testing.T, body []byte, want int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, stack.URL("webhook-ingest")+"/webhooks/stripe", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), stack.Config.WebhookSecret))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		t.Fatalf("webhook answered %d %s, want %d", resp.StatusCode, b.String(), want)
	}
}

func postJSON(t *testing.T, url, body string, out any) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", stack.Config.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s = %d %s", url, resp.StatusCode, b.String())
	}
	if err := json.Unmarshal(b.Bytes(), out); err != nil {
		t.Fatalf("decode %s: %v", b.String(), err)
	}
	return b.Bytes()
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func pgConn(ctx context.Context, t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func countRows(ctx context.Context, t *testing.T, eventID string) int {
	t.Helper()
	var n int
	if err := pgConn(ctx, t).QueryRow(ctx, "SELECT count(*) FROM stripe_events WHERE event_id = $1", eventID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitRows polls until the event has want rows, or fails at ctx's deadline.
func waitRows(ctx context.Context, t *testing.T, eventID string, want int) {
	t.Helper()
	conn := pgConn(ctx, t)
	for {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM stripe_events WHERE event_id = $1", eventID).Scan(&n)
		if err == nil && n == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("rows for %s: got %d (err %v), want %d before the deadline", eventID, n, err, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
