package pgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/testenv"
)

// BenchmarkInsertEvents stores groups of 6 events (one per partition in
// flight, the writer's usual group), each of an object of its own, as the
// writer does: the events and their stripe_objects rows in one batch.
func BenchmarkInsertEvents(b *testing.B) {
	ctx := context.Background()
	pool := testenv.Pool(b, testenv.Database(b))
	const group = 6
	n := 0
	b.ResetTimer()
	for b.Loop() {
		events := make([]pgstore.Event, group)
		for i := range events {
			n++
			body := fmt.Sprintf(`{"id":"evt_b%d","object":"event","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_b%d","object":"payment_intent","status":"succeeded","amount":2000}}}`, n, n%1000)
			env, err := stripeevent.Parse([]byte(body))
			if err != nil {
				b.Fatal(err)
			}
			events[i] = pgstore.Event{Envelope: env, Payload: json.RawMessage(body)}
		}
		if _, err := pgstore.InsertEvents(ctx, pool, events); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}
