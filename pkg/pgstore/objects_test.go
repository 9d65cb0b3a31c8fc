package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

// lifecycle is one PaymentIntent's events and its charge's, as Stripe sends
// them: whole-second created times, several events in one second, and a
// tie of created and rank broken by the event id. want is the event that
// must set each object, whatever the order of delivery.
func lifecycle(n int) (events []pgstore.Event, want map[string]string) {
	t0 := time.Unix(1700000000+int64(n)*10, 0).UTC()
	pi, ch := fmt.Sprintf("pi_%d", n), fmt.Sprintf("ch_%d", n)
	mk := func(id, typ string, at time.Time, obj string) pgstore.Event {
		body := fmt.Sprintf(`{"id":%q,"object":"event","type":%q,"created":%d,"data":{"object":%s}}`, id, typ, at.Unix(), obj)
		env, err := stripeevent.Parse([]byte(body))
		if err != nil {
			panic(err)
		}
		return pgstore.Event{Envelope: env, ReceivedAt: at.Add(time.Second), Payload: json.RawMessage(body)}
	}
	piObj := func(status string) string {
		return fmt.Sprintf(`{"id":%q,"object":"payment_intent","status":%q,"latest_charge":%q}`, pi, status, ch)
	}
	chObj := func(captured bool, refunded int, full bool) string {
		return fmt.Sprintf(`{"id":%q,"object":"charge","status":"succeeded","payment_intent":%q,"captured":%v,"amount_refunded":%d,"refunded":%v}`,
			ch, pi, captured, refunded, full)
	}
	p := func(s string) string { return fmt.Sprintf("evt_%d_%s", n, s) }
	events = []pgstore.Event{
		// One second: created, requires_action, succeeded; ids in the
		// opposite order of the lifecycle, so only the rank can order them.
		mk(p("z_created"), "payment_intent.created", t0, piObj("requires_payment_method")),
		mk(p("y_action"), "payment_intent.requires_action", t0, piObj("requires_action")),
		mk(p("x_succeeded"), "payment_intent.succeeded", t0, piObj("succeeded")),
		mk(p("w_charge"), "charge.succeeded", t0, chObj(false, 0, false)),
		mk(p("v_captured"), "charge.captured", t0, chObj(true, 0, false)),
		// Later seconds: a partial refund, then the whole.
		mk(p("a_partial"), "charge.refunded", t0.Add(2*time.Second), chObj(true, 500, false)),
		mk(p("b_full"), "charge.refunded", t0.Add(3*time.Second), chObj(true, 2000, true)),
		// Same second and rank as b_full: the greater event id wins.
		mk(p("c_updated"), "charge.updated", t0.Add(3*time.Second), chObj(true, 2000, true)),
	}
	return events, map[string]string{pi: p("x_succeeded"), ch: p("c_updated")}
}

// objectsOf reads stripe_objects as id → the event that set it, checking
// each row's payload is that event's data.object.
func objectsOf(t *testing.T, ctx context.Context, db *pgxpool.Pool) map[string]string {
	t.Helper()
	rows, err := db.Query(ctx, `SELECT o.id, o.event_id, o.payload = e.payload->'data'->'object'
		FROM stripe_objects o JOIN stripe_events e ON e.event_id = o.event_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]string{}
	for rows.Next() {
		var id, evt string
		var same bool
		if err := rows.Scan(&id, &evt, &same); err != nil {
			t.Fatal(err)
		}
		if !same {
			t.Errorf("%s: payload is not the data.object of %s", id, evt)
		}
		got[id] = evt
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestObjectsNewerWins delivers several transactions' events shuffled, in
// groups of random sizes, some twice, from two writers at once, then
// replays them all; after every round each object is the one its latest
// event set. A group holding a body jsonb refuses goes the row-by-row way,
// which must apply the objects the same.
func TestObjectsNewerWins(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(6) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			pool := testenv.Pool(t, testenv.Database(t))
			rng := rand.New(rand.NewPCG(seed, 19))
			var all []pgstore.Event
			want := map[string]string{}
			for n := range 5 {
				evs, w := lifecycle(n)
				all = append(all, evs...)
				for k, v := range w {
					want[k] = v
				}
			}
			// Some are delivered twice.
			deliveries := append([]pgstore.Event(nil), all...)
			for range len(all) / 3 {
				deliveries = append(deliveries, all[rng.IntN(len(all))])
			}
			rng.Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })
			var groups [][]pgstore.Event
			for rest := deliveries; len(rest) > 0; {
				n := min(1+rng.IntN(6), len(rest))
				groups = append(groups, rest[:n])
				rest = rest[n:]
			}
			// One group also carries a body jsonb refuses, of an object of
			// its own: it is stored raw and sets no object.
			raw := event(99)
			raw.Payload = json.RawMessage(`{"id":"evt_99","s":"\u0000"}`)
			k := rng.IntN(len(groups))
			groups[k] = append(append([]pgstore.Event(nil), groups[k]...), raw)

			var wg sync.WaitGroup
			next := make(chan []pgstore.Event)
			for range 2 {
				wg.Go(func() {
					for g := range next {
						if _, err := pgstore.InsertEvents(ctx, pool, g); err != nil {
							t.Error(err)
						}
					}
				})
			}
			for _, g := range groups {
				next <- g
			}
			close(next)
			wg.Wait()
			check := func(round string) {
				got := objectsOf(t, ctx, pool)
				if len(got) != len(want) {
					t.Errorf("%s: %d objects %v, want %d", round, len(got), got, len(want))
				}
				for id, evt := range want {
					if got[id] != evt {
						t.Errorf("%s: %s set by %s, want %s", round, id, got[id], evt)
					}
				}
			}
			check("delivery")
			// A replay: everything again, oldest first, in one group.
			if _, err := pgstore.InsertEvents(ctx, pool, all); err != nil {
				t.Fatal(err)
			}
			check("replay")
		})
	}
}

// Migration 0003 fills stripe_objects from the events stored before it:
// rows copied in behind InsertEvents' back stand for them, and the
// migration is run again over them.
func TestMigrationFillsObjects(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	events, want := lifecycle(1)
	if _, err := pgstore.CopyEvents(ctx, pool, "stripe_events", events); err != nil {
		t.Fatal(err)
	}
	if got := objectsOf(t, ctx, pool); len(got) != 0 {
		t.Fatalf("objects before the migration: %v", got)
	}
	if _, err := pool.Exec(ctx, "DELETE FROM schema_migrations WHERE name = '0003_stripe_objects.sql'"); err != nil {
		t.Fatal(err)
	}
	if n, err := pgstore.Migrate(ctx, pool); err != nil || n != 1 {
		t.Fatalf("Migrate = %d, %v; want 0003 applied again", n, err)
	}
	got := objectsOf(t, ctx, pool)
	if len(got) != len(want) {
		t.Fatalf("objects %v, want %v", got, want)
	}
	for id, evt := range want {
		if got[id] != evt {
			t.Errorf("%s set by %s, want %s", id, got[id], evt)
		}
	}
	o, err := pgstore.ObjectByID(ctx, pool, "pi_1")
	if err != nil || o.Type != "payment_intent" || o.EventType != "payment_intent.succeeded" || o.EventCreated.Unix() != 1700000010 {
		t.Fatalf("ObjectByID = %+v, %v", o, err)
	}
	if _, err := pgstore.ObjectByID(ctx, pool, "pi_nope"); err != pgstore.ErrNotFound {
		t.Fatalf("ObjectByID of an unknown id: %v, want ErrNotFound", err)
	}
	tl, more, err := pgstore.Timeline(ctx, pool, "pi_1", 5)
	if err != nil || !more || len(tl) != 5 || tl[0].Created.Unix() != 1700000010 {
		t.Fatalf("Timeline = %+v, more %v, %v; want 5 of 8, more", tl, more, err)
	}
}
