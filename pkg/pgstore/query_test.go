package pgstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

func queryEvent(eventID, id string, created time.Time, received time.Time, related ...string) pgstore.Event {
	return pgstore.Event{
		Envelope: stripeevent.Envelope{
			ID: eventID, Type: "charge.updated", ObjectID: id, ObjectType: "charge",
			RelatedIDs: related, Created: created,
		},
		ReceivedAt: received,
		Payload:    json.RawMessage(fmt.Sprintf(`{"id":%q}`, eventID)),
	}
}

func TestEventsByIDPagesOldestFirst(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	recv := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// Inserted out of order; two share Stripe's created second and are told
	// apart by received_at; one has no created and sorts by received_at.
	events := []pgstore.Event{
		queryEvent("evt_4", "ch_1", t0.Add(3*time.Second), recv(3100)),
		queryEvent("evt_2", "ch_1", t0.Add(time.Second), recv(1200)),
		queryEvent("evt_1", "ch_1", t0, recv(100)),
		queryEvent("evt_3", "ch_1", t0.Add(time.Second), recv(1500)),
		queryEvent("evt_5", "pi_1", t0.Add(4*time.Second), recv(4100), "ch_1"),
		queryEvent("evt_6", "ch_1", time.Time{}, recv(5000)),
		queryEvent("evt_other", "ch_2", t0, recv(100)),
	}
	if _, err := pgstore.InsertEvents(ctx, pool, events); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name   string
		onlyID bool
		want   []string
	}{
		{"related", false, []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"}},
		{"only id", true, []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_6"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			q := pgstore.EventQuery{ID: "ch_1", OnlyID: tc.onlyID, Limit: 2}
			for pages := 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("paging does not end; got %v", got)
				}
				page, err := pgstore.EventsByID(ctx, pool, q)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Events) > 2 {
					t.Fatalf("page of %d events, limit 2", len(page.Events))
				}
				for _, e := range page.Events {
					got = append(got, e.ID)
				}
				if page.Next == "" {
					break
				}
				q.Cursor = page.Next
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("events = %v, want %v", got, tc.want)
			}
		})
	}

	page, err := pgstore.EventsByID(ctx, pool, pgstore.EventQuery{ID: "ch_2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Next != "" {
		t.Fatalf("ch_2 page = %+v, want one event and no next cursor", page)
	}
	e := page.Events[0]
	if e.ID != "evt_other" || e.ObjectID != "ch_2" || e.Type != "charge.updated" || e.ObjectType != "charge" ||
		!e.Created.Equal(t0) || !e.ReceivedAt.Equal(recv(100)) || string(e.Payload) != `{"id": "evt_other"}` {
		t.Fatalf("row read back as %+v (payload %s)", e, e.Payload)
	}
}

func TestEventsByIDRefusesForeignCursors(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	t0 := time.Now()
	if _, err := pgstore.InsertEvents(ctx, pool, []pgstore.Event{
		queryEvent("evt_a", "ch_a", t0, t0), queryEvent("evt_b", "ch_a", t0.Add(time.Second), t0),
	}); err != nil {
		t.Fatal(err)
	}
	page, err := pgstore.EventsByID(ctx, pool, pgstore.EventQuery{ID: "ch_a", Limit: 1})
	if err != nil || page.Next == "" {
		t.Fatalf("first page = %+v, %v; want a next cursor", page, err)
	}
	for _, q := range []pgstore.EventQuery{
		{ID: "ch_other", Cursor: page.Next},
		{ID: "ch_a", Cursor: "not-a-cursor"},
		{ID: "ch_a", Cursor: "e30"}, // base64url of {}
	} {
		if _, err := pgstore.EventsByID(ctx, pool, q); !errors.Is(err, pgstore.ErrBadCursor) {
			t.Errorf("EventsByID(%+v) error = %v, want ErrBadCursor", q, err)
		}
	}
}
