package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Object is one row of stripe_objects: the current state of a Stripe object
// (charge, PaymentIntent, refund, …), as the newest of its events left it
// (migration 0003, InsertEvents).
type Object struct {
	ID      string          // data.object.id
	Type    string          // data.object.object
	Payload json.RawMessage // data.object of the event that set it
	// EventID, EventType and EventCreated are that event's.
	EventID      string
	EventType    string
	EventCreated time.Time
	Livemode     bool
	UpdatedAt    time.Time
}

// ErrNotFound is an id with no row.
var ErrNotFound = errors.New("not found")

// ObjectByID reads the current state of the object id.
func ObjectByID(ctx context.Context, pool *pgxpool.Pool, id string) (Object, error) {
	var o Object
	err := pool.QueryRow(ctx, `SELECT id, coalesce(object_type, ''), payload, event_id, event_type, event_created, livemode, updated_at
		FROM stripe_objects WHERE id = $1`, id).
		Scan(&o.ID, &o.Type, &o.Payload, &o.EventID, &o.EventType, &o.EventCreated, &o.Livemode, &o.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Object{}, ErrNotFound
	}
	if err != nil {
		return Object{}, fmt.Errorf("read object %s: %w", id, err)
	}
	return o, nil
}

// TimelineEntry is one event of a transaction's timeline, without its body.
type TimelineEntry struct {
	EventID    string
	Type       string
	ObjectID   string    // data.object.id: the transaction's, or a related object's
	Status     string    // data.object.status, empty when absent
	Created    time.Time // zero when absent
	ReceivedAt time.Time
}

// Timeline lists the first limit events of id (its own and its related
// objects', as EventsByID with OnlyID false), oldest first, and whether
// there are more.
func Timeline(ctx context.Context, pool *pgxpool.Pool, id string, limit int) ([]TimelineEntry, bool, error) {
	rows, err := pool.Query(ctx, `SELECT event_id, type, id, coalesce(payload->'data'->'object'->>'status', ''), created, received_at
		FROM stripe_events WHERE `+matchRelated+` ORDER BY `+eventOrder+fmt.Sprintf(` LIMIT %d`, limit+1), id)
	if err != nil {
		return nil, false, fmt.Errorf("query timeline of %s: %w", id, err)
	}
	defer rows.Close()
	var out []TimelineEntry
	for rows.Next() {
		var e TimelineEntry
		var created *time.Time
		if err := rows.Scan(&e.EventID, &e.Type, &e.ObjectID, &e.Status, &created, &e.ReceivedAt); err != nil {
			return nil, false, fmt.Errorf("read timeline of %s: %w", id, err)
		}
		if created != nil {
			e.Created = *created
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("read timeline of %s: %w", id, err)
	}
	if len(out) > limit {
		return out[:limit], true, nil
	}
	return out, false, nil
}
