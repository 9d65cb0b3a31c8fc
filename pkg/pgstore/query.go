package pgstore

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultEventPage is the page size of an EventQuery without a Limit.
const DefaultEventPage = 50

// EventQuery selects one transaction's events, oldest first.
type EventQuery struct {
	// ID matches the id column (data.object.id) and, unless OnlyID, the
	// related_ids column, so a pi_… also finds the events of its charge.
	ID     string
	OnlyID bool
	// Cursor is a previous page's Next; empty starts at the oldest event.
	Cursor string
	// Limit is the page size; zero or less is DefaultEventPage.
	Limit int
}

// EventPage is one page of an EventQuery.
type EventPage struct {
	Events []Event
	// Next is the cursor of the following page, empty on the last one.
	Next string
}

// ErrBadCursor is returned for a cursor this package did not issue for the
// query's id.
var ErrBadCursor = errors.New("cursor is not valid for this query")

// Events are ordered by Stripe's created (second resolution; received_at
// when absent), then by when ingest accepted them, then by event id, so
// the order is total and a cursor can resume after any row.
const (
	eventColumns = `event_id, id, type, coalesce(object_type, ''), related_ids, livemode,
		coalesce(api_version, ''), created, received_at, payload, payload_raw, coalesce(payload_error, ''),
		coalesce(created, received_at)`
	eventOrder   = `coalesce(created, received_at), received_at, event_id`
	matchOnlyID  = `id = $1`
	matchRelated = `(id = $1 OR related_ids @> ARRAY[$1::text])`
)

// cursor is the position after the last row of a page. It carries the id it
// was issued for so it cannot silently page through another transaction.
type cursor struct {
	ID         string `json:"i"`
	SortMicros int64  `json:"s"`
	RecvMicros int64  `json:"r"`
	EventID    string `json:"e"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s, id string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.ID != id || c.EventID == "" {
		return cursor{}, ErrBadCursor
	}
	return c, nil
}

// EventsByID returns a page of the events of q.ID, oldest first.
func EventsByID(ctx context.Context, pool *pgxpool.Pool, q EventQuery) (EventPage, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultEventPage
	}
	match := matchRelated
	if q.OnlyID {
		match = matchOnlyID
	}
	sql := `SELECT ` + eventColumns + ` FROM stripe_events WHERE ` + match
	args := []any{q.ID}
	if q.Cursor != "" {
		c, err := decodeCursor(q.Cursor, q.ID)
		if err != nil {
			return EventPage{}, err
		}
		sql += ` AND (` + eventOrder + `) > ($2, $3, $4)`
		args = append(args, time.UnixMicro(c.SortMicros), time.UnixMicro(c.RecvMicros), c.EventID)
	}
	sql += fmt.Sprintf(` ORDER BY %s LIMIT %d`, eventOrder, limit+1)

	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return EventPage{}, fmt.Errorf("query events of %s: %w", q.ID, err)
	}
	defer rows.Close()
	var page EventPage
	var last cursor
	for rows.Next() {
		var e Event
		var created *time.Time
		var sortKey time.Time
		var payload []byte
		if err := rows.Scan(&e.ID, &e.ObjectID, &e.Type, &e.ObjectType, &e.RelatedIDs, &e.Livemode,
			&e.APIVersion, &created, &e.ReceivedAt, &payload, &e.Raw, &e.PayloadError, &sortKey); err != nil {
			return EventPage{}, fmt.Errorf("read events of %s: %w", q.ID, err)
		}
		if len(page.Events) == limit {
			page.Next = last.encode()
			break
		}
		if created != nil {
			e.Created = *created
		}
		e.Payload = payload
		page.Events = append(page.Events, e)
		last = cursor{ID: q.ID, SortMicros: sortKey.UnixMicro(), RecvMicros: e.ReceivedAt.UnixMicro(), EventID: e.ID}
	}
	if err := rows.Err(); err != nil {
		return EventPage{}, fmt.Errorf("read events of %s: %w", q.ID, err)
	}
	return page, nil
}
