package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// stateEvent is a stored event whose data.object is id with status.
func stateEvent(t *testing.T, eventID, typ, object, id, status string, created time.Time, related string) pgstore.Event {
	t.Helper()
	obj := fmt.Sprintf(`{"id":%q,"object":%q,"status":%q`, id, object, status)
	if related != "" {
		obj += fmt.Sprintf(`,"payment_intent":%q`, related)
	}
	body := fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"data":{"object":%s}}}`, eventID, typ, created.Unix(), obj)
	env, err := stripeevent.Parse([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return pgstore.Event{Envelope: env, ReceivedAt: created.Add(time.Second), Payload: json.RawMessage(body)}
}

type transaction struct {
	Object    string          `json:"object"`
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Status    string          `json:"status"`
	State     json.RawMessage `json:"state"`
	EventID   string          `json:"event_id"`
	EventType string          `json:"event_type"`
	Timeline  []struct {
		EventID  string `json:"event_id"`
		ObjectID string `json:"object_id"`
		Status   string `json:"status"`
	} `json:"timeline"`
	TimelineHasMore bool `json:"timeline_has_more"`
}

// The state is the newest event's, whatever the order the events came in;
// the timeline lists them oldest first, the charge's included.
func TestTransactionState(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	t0 := time.Unix(1700000000, 0).UTC()
	// Delivered backwards: succeeded, then created, of the same second.
	storeEvents(t, cfg.Database.URL, stateEvent(t, "evt_t2", "payment_intent.succeeded", "payment_intent", "pi_t", "succeeded", t0, ""))
	storeEvents(t, cfg.Database.URL,
		stateEvent(t, "evt_t1", "payment_intent.created", "payment_intent", "pi_t", "requires_payment_method", t0, ""),
		stateEvent(t, "evt_t3", "charge.succeeded", "charge", "ch_t", "succeeded", t0.Add(time.Second), "pi_t"))
	a := startAPI(t, cfg)
	for _, s := range shapes("transactions/pi_t") {
		t.Run(s.name, func(t *testing.T) {
			h := map[string]string{"X-Subscription-Token": mintToken("pi_t")}
			for k, v := range s.header {
				h[k] = v
			}
			r := a.do(t, http.MethodGet, s.path, "", h)
			if r.Status != http.StatusOK {
				t.Fatalf("status %d: %s", r.Status, r.Body)
			}
			var tx transaction
			if err := json.Unmarshal(r.Body, &tx); err != nil {
				t.Fatal(err)
			}
			if tx.Object != "transaction" || tx.ID != "pi_t" || tx.Type != "payment_intent" || tx.Status != "succeeded" ||
				tx.EventID != "evt_t2" || tx.EventType != "payment_intent.succeeded" || tx.TimelineHasMore {
				t.Fatalf("transaction = %s", r.Body)
			}
			var got []string
			for _, e := range tx.Timeline {
				got = append(got, e.EventID+" "+e.ObjectID+" "+e.Status)
			}
			if want := "[evt_t1 pi_t requires_payment_method evt_t2 pi_t succeeded evt_t3 ch_t succeeded]"; fmt.Sprint(got) != want {
				t.Fatalf("timeline = %v, want %s", got, want)
			}
		})
	}
}

func TestTransactionNeedsItsToken(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	storeEvents(t, cfg.Database.URL, stateEvent(t, "evt_n1", "charge.succeeded", "charge", "ch_n", "succeeded", time.Now(), ""))
	a := startAPI(t, cfg)
	for _, tc := range []struct {
		name, path string
		header     map[string]string
		status     int
		code       string
	}{
		{"no API key", "/Stripe/transactions/ch_n?token=" + mintToken("ch_n"), nil, 401, "missing_api_key"},
		{"no token", "/Stripe/transactions/ch_n", withKey, 401, "missing_subscription_token"},
		{"another id's token", "/Stripe/transactions/ch_n?token=" + mintToken("ch_other"), withKey, 403, "subscription_token_wrong_id"},
		{"query token", "/Stripe/transactions/ch_n?token=" + mintToken("ch_n"), withKey, 200, ""},
		{"nothing stored", "/Stripe/transactions/ch_none?token=" + mintToken("ch_none"), withKey, 404, "not_found"},
		{"unknown parameter", "/Stripe/transactions/ch_n?limit=5&token=" + mintToken("ch_n"), withKey, 400, "invalid_field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, http.MethodGet, tc.path, "", tc.header)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if tc.code != "" {
				if e := r.apiError(t); e["code"] != tc.code {
					t.Fatalf("error %v, want code %s", e, tc.code)
				}
			}
		})
	}
}
