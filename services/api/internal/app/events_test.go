package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

func storeEvents(t *testing.T, dbURL string, events ...pgstore.Event) {
	t.Helper()
	if _, err := pgstore.InsertEvents(context.Background(), testenv.Pool(t, dbURL), events); err != nil {
		t.Fatal(err)
	}
}

func storedEvent(eventID, typ, id string, created time.Time, related ...string) pgstore.Event {
	return pgstore.Event{
		Envelope:   stripeevent.Envelope{ID: eventID, Type: typ, ObjectID: id, ObjectType: "charge", RelatedIDs: related, Created: created},
		ReceivedAt: created.Add(time.Second),
		Payload:    json.RawMessage(fmt.Sprintf(`{"id":%q,"type":%q}`, eventID, typ)),
	}
}

type eventsPage struct {
	Object string `json:"object"`
	Data   []struct {
		EventID    string          `json:"event_id"`
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		RelatedIDs []string        `json:"related_ids"`
		Created    *time.Time      `json:"created"`
		Payload    json.RawMessage `json:"payload"`
	} `json:"data"`
	HasMore    bool   `json:"has_more"`
	NextCursor string `json:"next_cursor"`
}

func TestEventsPagesOneTransaction(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	t0 := time.Date(2024, 6, 1, 10, 0, 0, 0, time.UTC)
	storeEvents(t, cfg.Database.URL,
		storedEvent("evt_3", "charge.refunded", "ch_e", t0.Add(2*time.Minute)),
		storedEvent("evt_1", "charge.succeeded", "ch_e", t0),
		storedEvent("evt_2", "payment_intent.succeeded", "pi_e", t0.Add(time.Minute), "ch_e"),
		storedEvent("evt_x", "charge.succeeded", "ch_other", t0),
	)
	a := startAPI(t, cfg)

	list := func(t *testing.T, path string, query url.Values, header map[string]string) eventsPage {
		t.Helper()
		r := a.do(t, http.MethodGet, path+"?"+query.Encode(), "", header)
		if r.Status != http.StatusOK {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		var p eventsPage
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, s := range shapes("events") {
		t.Run(s.name, func(t *testing.T) {
			var got []string
			q := url.Values{"id": {"ch_e"}, "limit": {"2"}, "token": {mintToken("ch_e")}}
			for pages := 0; ; pages++ {
				if pages > 5 {
					t.Fatalf("paging does not end: %v", got)
				}
				p := list(t, s.path, q, s.header)
				if p.Object != "list" || p.HasMore != (p.NextCursor != "") {
					t.Fatalf("page = %+v", p)
				}
				for _, e := range p.Data {
					got = append(got, e.EventID)
				}
				if !p.HasMore {
					break
				}
				q.Set("cursor", p.NextCursor)
			}
			if want := []string{"evt_1", "evt_2", "evt_3"}; !slices.Equal(got, want) {
				t.Fatalf("events = %v, want %v (oldest first, with the PaymentIntent event naming the charge)", got, want)
			}
		})
	}

	t.Run("related=false and the token in a header", func(t *testing.T) {
		p := list(t, "/Stripe/events", url.Values{"id": {"ch_e"}, "related": {"false"}},
			map[string]string{"X-API-Key": apiKey, "X-Subscription-Token": mintToken("ch_e")})
		var got []string
		for _, e := range p.Data {
			got = append(got, e.EventID)
		}
		if !slices.Equal(got, []string{"evt_1", "evt_3"}) || p.HasMore {
			t.Fatalf("events = %v (has_more %v), want evt_1, evt_3 only", got, p.HasMore)
		}
		e := p.Data[0]
		if e.ID != "ch_e" || e.Type != "charge.succeeded" || e.Created == nil || !e.Created.Equal(t0) || string(e.Payload) != `{"id":"evt_1","type":"charge.succeeded"}` {
			t.Fatalf("row = %+v, payload %s", e, e.Payload)
		}
	})

	for _, tc := range []struct {
		name   string
		query  url.Values
		status int
		code   string
		field  string
	}{
		{"no token", url.Values{"id": {"ch_e"}}, 401, "missing_subscription_token", ""},
		{"token of another id", url.Values{"id": {"ch_e"}, "token": {mintToken("ch_other")}}, 403, "subscription_token_wrong_id", ""},
		{"forged token", url.Values{"id": {"ch_e"}, "token": {"v1.9999999999.Y2hfZQ.AAAA"}}, 403, "subscription_token_invalid", ""},
		{"no id", url.Values{}, 400, "invalid_field", "id"},
		{"limit 0", url.Values{"id": {"ch_e"}, "limit": {"0"}, "token": {mintToken("ch_e")}}, 400, "invalid_field", "limit"},
		{"limit 101", url.Values{"id": {"ch_e"}, "limit": {"101"}, "token": {mintToken("ch_e")}}, 400, "invalid_field", "limit"},
		{"bad cursor", url.Values{"id": {"ch_e"}, "cursor": {"xyz"}, "token": {mintToken("ch_e")}}, 400, "invalid_field", "cursor"},
		{"bad related", url.Values{"id": {"ch_e"}, "related": {"maybe"}, "token": {mintToken("ch_e")}}, 400, "invalid_field", "related"},
		{"unknown parameter", url.Values{"id": {"ch_e"}, "type": {"charge.succeeded"}, "token": {mintToken("ch_e")}}, 400, "invalid_field", "type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := a.do(t, http.MethodGet, "/Stripe/events?"+tc.query.Encode(), "", withKey)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.Status, tc.status, r.Body)
			}
			if e := r.apiError(t); e["code"] != tc.code || (tc.field != "" && e["field"] != tc.field) {
				t.Fatalf("error = %v, want code %s field %q", e, tc.code, tc.field)
			}
		})
	}
}

func TestEventsWithoutTokenWhenNotRequired(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.EventsRequireToken = false
	storeEvents(t, cfg.Database.URL, storedEvent("evt_1", "charge.succeeded", "ch_n", time.Now()))
	a := startAPI(t, cfg)
	r := a.do(t, http.MethodGet, "/Stripe/events?id=ch_n", "", withKey)
	var p eventsPage
	if err := json.Unmarshal(r.Body, &p); r.Status != http.StatusOK || err != nil || len(p.Data) != 1 {
		t.Fatalf("status %d, %d events: %s", r.Status, len(p.Data), r.Body)
	}
}
