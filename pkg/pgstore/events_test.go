package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

func event(i int) pgstore.Event {
	id := fmt.Sprintf("evt_%d", i)
	return pgstore.Event{
		Envelope: stripeevent.Envelope{ID: id, Type: "charge.succeeded", ObjectID: fmt.Sprintf("ch_%d", i),
			ObjectType: "charge", RelatedIDs: []string{"pi_1"}, Created: time.Unix(1700000000, 0).UTC()},
		ReceivedAt: time.Unix(1700000001, 0).UTC(),
		Payload:    json.RawMessage(fmt.Sprintf(`{"id":%q,"type":"charge.succeeded","n":%d}`, id, i)),
	}
}

func TestInsertEventsSkipsDuplicates(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))

	// evt_2 twice in one batch, evt_1 and evt_2 again in the next.
	first := []pgstore.Event{event(1), event(2), event(2), event(3)}
	st, err := pgstore.InsertEvents(ctx, pool, first)
	if err != nil || st.Inserted != 3 || st.Duplicates != 1 {
		t.Fatalf("first batch: %+v, err %v; want 3 inserted, 1 duplicate", st, err)
	}
	st, err = pgstore.InsertEvents(ctx, pool, []pgstore.Event{event(1), event(4), event(2)})
	if err != nil || st.Inserted != 1 || st.Duplicates != 2 {
		t.Fatalf("second batch: %+v, err %v; want 1 inserted, 2 duplicates", st, err)
	}
	var rows int
	var payload, related string
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM stripe_events").Scan(&rows); err != nil || rows != 4 {
		t.Fatalf("rows = %d (%v), want 4", rows, err)
	}
	err = pool.QueryRow(ctx, "SELECT payload->>'n', related_ids::text FROM stripe_events WHERE event_id = 'evt_3'").Scan(&payload, &related)
	if err != nil || payload != "3" || related != "{pi_1}" {
		t.Fatalf("evt_3: n=%q related=%q err=%v", payload, related, err)
	}
	// The staging table empties at commit: a third batch on the same
	// connections must not see the earlier rows again.
	st, err = pgstore.InsertEvents(ctx, pool, []pgstore.Event{event(5)})
	if err != nil || st.Inserted != 1 {
		t.Fatalf("third batch: %+v, err %v; want 1 inserted", st, err)
	}
}

func TestCopyEvents(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	n, err := pgstore.CopyEvents(ctx, pool, "stripe_events", []pgstore.Event{event(1), event(2)})
	if err != nil || n != 2 {
		t.Fatalf("CopyEvents = %d, %v", n, err)
	}
}

// The four bodies that are valid JSON but that jsonb refuses are stored raw;
// an event whose id holds a NUL cannot be stored at all and is reported
// alone; the rest of the group is stored as usual, duplicates skipped.
func TestInsertEventsStoresWhatJSONBRefusesRaw(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	refused := map[string]string{
		"nul":       `{"id":"evt_nul","s":"a\u0000b"}`,
		"surrogate": `{"id":"evt_surrogate","s":"\ud800"}`,
		"utf8":      "{\"id\":\"evt_utf8\",\"s\":\"\xff\"}",
		"range":     `{"id":"evt_range","n":1e1000000}`,
	}
	if _, err := pgstore.InsertEvents(ctx, pool, []pgstore.Event{event(1)}); err != nil {
		t.Fatal(err)
	}
	group := []pgstore.Event{event(1), event(2)}
	for name, body := range refused {
		e := event(0)
		e.ID, e.Payload = "evt_"+name, json.RawMessage(body)
		group = append(group, e)
	}
	nulID := event(3)
	nulID.ID = "evt_\x00"
	group = append(group, nulID, event(4))

	st, err := pgstore.InsertEvents(ctx, pool, group)
	if err != nil {
		t.Fatal(err)
	}
	if st.Inserted != 6 || st.Raw != 4 || st.Duplicates != 1 || len(st.Refused) != 1 || st.Refused[6] == nil {
		t.Fatalf("stored %+v; want 6 inserted (4 raw), 1 duplicate, index 6 refused", st)
	}
	for name, body := range refused {
		var raw []byte
		var reason string
		var payloadNull bool
		err := pool.QueryRow(ctx, "SELECT payload_raw, payload_error, payload IS NULL FROM stripe_events WHERE event_id = $1",
			"evt_"+name).Scan(&raw, &reason, &payloadNull)
		if err != nil || string(raw) != body || reason == "" || !payloadNull {
			t.Errorf("%s: raw %q, reason %q, payload null %v, err %v; want the body, a reason, null", name, raw, reason, payloadNull, err)
		}
	}
	// Queries by transaction still find them.
	page, err := pgstore.EventsByID(ctx, pool, pgstore.EventQuery{ID: event(0).ObjectID})
	if err != nil || len(page.Events) != 4 {
		t.Fatalf("events of %s: %d (%v), want the 4 raw ones", event(0).ObjectID, len(page.Events), err)
	}
	for _, e := range page.Events {
		if e.Payload != nil || len(e.Raw) == 0 || e.PayloadError == "" {
			t.Errorf("%s read back: payload %q, raw %d bytes, error %q", e.ID, e.Payload, len(e.Raw), e.PayloadError)
		}
	}
}
