package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/testenv"
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
	n, err := pgstore.InsertEvents(ctx, pool, first)
	if err != nil || n != 3 {
		t.Fatalf("first batch: inserted %d, err %v; want 3, nil", n, err)
	}
	n, err = pgstore.InsertEvents(ctx, pool, []pgstore.Event{event(1), event(4), event(2)})
	if err != nil || n != 1 {
		t.Fatalf("second batch: inserted %d, err %v; want 1, nil", n, err)
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
	n, err = pgstore.InsertEvents(ctx, pool, []pgstore.Event{event(5)})
	if err != nil || n != 1 {
		t.Fatalf("third batch: inserted %d, err %v; want 1, nil", n, err)
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
