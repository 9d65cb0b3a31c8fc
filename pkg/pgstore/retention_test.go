package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/testenv"
)

func TestDeleteEventsBefore(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t, testenv.Database(t))
	cutoff := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	var events []pgstore.Event
	for i := range 12 {
		e := event(i)
		// 7 older than the cutoff (one a microsecond before it), 5 at it or after.
		switch {
		case i < 6:
			e.ReceivedAt = cutoff.Add(-time.Duration(i+1) * time.Hour)
		case i == 6:
			e.ReceivedAt = cutoff.Add(-time.Microsecond)
		case i == 7:
			e.ReceivedAt = cutoff
		default:
			e.ReceivedAt = cutoff.Add(time.Duration(i) * time.Minute)
		}
		events = append(events, e)
	}
	if _, err := pgstore.InsertEvents(ctx, pool, events); err != nil {
		t.Fatal(err)
	}

	if _, err := pgstore.DeleteEventsBefore(ctx, pool, cutoff, 0); err == nil {
		t.Fatal("a batch of 0 was taken")
	}
	// Batches of 3: 3 + 3 + 1, the short one ends the loop.
	n, err := pgstore.DeleteEventsBefore(ctx, pool, cutoff, 3)
	if err != nil || n != 7 {
		t.Fatalf("DeleteEventsBefore = %d, %v; want 7", n, err)
	}
	var left int
	var oldest time.Time
	if err := pool.QueryRow(ctx, "SELECT count(*), min(received_at) FROM stripe_events").Scan(&left, &oldest); err != nil {
		t.Fatal(err)
	}
	if left != 5 || !oldest.Equal(cutoff) {
		t.Fatalf("%d rows left, oldest received %s; want 5, the oldest at the cutoff %s", left, oldest, cutoff)
	}
	// Nothing left to delete; an exact multiple of the batch also ends.
	if n, err := pgstore.DeleteEventsBefore(ctx, pool, cutoff, 3); err != nil || n != 0 {
		t.Fatalf("second run = %d, %v; want 0", n, err)
	}
	if n, err := pgstore.DeleteEventsBefore(ctx, pool, cutoff.Add(6*time.Minute+time.Minute), 1); err != nil || n != 1 {
		t.Fatalf("batch of 1 = %d, %v; want 1 (the event at the cutoff)", n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := pgstore.DeleteEventsBefore(cancelled, pool, cutoff.Add(time.Hour), 1); err == nil {
		t.Fatal("a cancelled context deleted on")
	}
}
