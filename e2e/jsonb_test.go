package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/devstack"
)

// Four bodies are valid JSON, pass ingest's parser, and are refused by
// PostgreSQL's jsonb. Each is accepted, stored with its raw body where a
// query by transaction finds it, and the event after them on the same
// partition is stored too: nothing stalls.
func TestBodiesJSONBRefusesAreStoredRaw(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	txID := "ch_jsonb_" + devstack.RandomHex(6)
	shapes := []struct{ name, member string }{
		{"nul", `"description":"a\u0000b"`},
		{"surrogate", `"description":"\ud800"`},
		{"utf8", "\"description\":\"\xff\""},
		{"range", `"amount":1e1000000`},
		{"plain", `"description":"fine"`}, // after the others, on their partition
	}
	ids := make([]string, len(shapes))
	bodies := map[string]string{}
	for i, s := range shapes {
		ids[i] = fmt.Sprintf("evt_%s_%s", s.name, devstack.RandomHex(6))
		body := fmt.Sprintf(`{"id":%q,"object":"event","type":"charge.updated","created":%d,"livemode":false,`+
			`"data":{"object":{"id":%q,"object":"charge",%s}}}`, ids[i], time.Now().Unix(), txID, s.member)
		bodies[ids[i]] = body
		postWebhook(t, []byte(body), http.StatusOK)
	}
	for _, id := range ids {
		waitRows(ctx, t, id, 1)
	}
	conn := pgConn(ctx, t)
	for i, id := range ids {
		var raw []byte
		var reason string
		var payloadNull bool
		if err := conn.QueryRow(ctx, `SELECT coalesce(payload_raw, ''), coalesce(payload_error, ''), payload IS NULL
			FROM stripe_events WHERE event_id = $1`, id).Scan(&raw, &reason, &payloadNull); err != nil {
			t.Fatal(err)
		}
		if shapes[i].name == "plain" {
			if payloadNull || len(raw) > 0 || reason != "" {
				t.Errorf("plain event stored raw: payload null %v, reason %q", payloadNull, reason)
			}
			continue
		}
		if !payloadNull || string(raw) != bodies[id] || reason == "" {
			t.Errorf("%s: payload null %v, raw %q, reason %q; want null, the body as sent, a reason", shapes[i].name, payloadNull, raw, reason)
		}
	}

	// The api lists all five for the transaction; the raw ones with their
	// bytes and the reason.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, stack.URL("api")+"/Stripe/events?id="+txID, nil)
	req.Header.Set("X-API-Key", stack.Config.APIKey)
	req.Header.Set("X-Subscription-Token", mintToken(t, txID))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			EventID      string          `json:"event_id"`
			Payload      json.RawMessage `json:"payload"`
			PayloadRaw   []byte          `json:"payload_raw"`
			PayloadError string          `json:"payload_error"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /Stripe/events: %d, %v", resp.StatusCode, err)
	}
	if len(list.Data) != len(shapes) {
		t.Fatalf("GET /Stripe/events?id=%s: %d events, want %d", txID, len(list.Data), len(shapes))
	}
	for _, e := range list.Data {
		want, ok := bodies[e.EventID]
		switch {
		case !ok:
			t.Errorf("unexpected event %s", e.EventID)
		case string(e.Payload) == "null" && (string(e.PayloadRaw) != want || e.PayloadError == ""):
			t.Errorf("%s: payload_raw %q, payload_error %q", e.EventID, e.PayloadRaw, e.PayloadError)
		}
	}
}
