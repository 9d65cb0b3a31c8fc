package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Event is one row of stripe_events.
type Event struct {
	stripeevent.Envelope
	ReceivedAt time.Time
	Payload    json.RawMessage
}

// EventColumns are the columns of stripe_events, in the order of Event.Values.
var EventColumns = []string{"event_id", "id", "type", "object_type", "related_ids",
	"livemode", "api_version", "created", "received_at", "payload"}

// Values is the event as a row of EventColumns.
func (e Event) Values() []any {
	return []any{e.ID, e.ObjectID, e.Type, nullable(e.ObjectType), relatedIDs(e.RelatedIDs),
		e.Livemode, nullable(e.APIVersion), nullableTime(e.Created), receivedAt(e.ReceivedAt), []byte(e.Payload)}
}

// The staging table lives as long as its connection and empties itself at
// every commit, so each batch starts from nothing without a DDL per batch.
const stagingTable = "stripe_events_staging"

var (
	createStaging = `CREATE TEMP TABLE IF NOT EXISTS ` + stagingTable +
		` (LIKE stripe_events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`
	// ORDER BY takes the rows' locks in one order in every writer, so two
	// batches that share event ids (a redelivery racing a replay) wait for
	// each other instead of deadlocking.
	mergeStaging = fmt.Sprintf(`INSERT INTO stripe_events (%[1]s) SELECT %[1]s FROM %[2]s ORDER BY event_id
		ON CONFLICT (event_id) DO NOTHING`, strings.Join(EventColumns, ", "), stagingTable)
)

// InsertEvents writes the events in one transaction; an event already stored
// (or twice in events) is skipped. It returns how many rows were new.
//
// The rows are copied into a session-local staging table with COPY, then
// moved with one INSERT … SELECT … ON CONFLICT DO NOTHING: COPY alone cannot
// skip duplicates, and one INSERT per row is several times slower.
func InsertEvents(ctx context.Context, pool *pgxpool.Pool, events []Event) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	inserted := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, createStaging); err != nil {
			return fmt.Errorf("create staging table: %w", err)
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{stagingTable}, EventColumns, eventRows(events)); err != nil {
			return fmt.Errorf("copy into staging table: %w", err)
		}
		tag, err := tx.Exec(ctx, mergeStaging)
		if err != nil {
			return fmt.Errorf("insert from staging table: %w", err)
		}
		inserted = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
}

// CopyEvents copies the events straight into table (stripe_events or one made
// LIKE it) with no duplicate handling: a duplicate fails the whole copy. It is
// the ceiling InsertEvents is measured against, not a way to store events.
func CopyEvents(ctx context.Context, db Copier, table string, events []Event) (int64, error) {
	return db.CopyFrom(ctx, pgx.Identifier{table}, EventColumns, eventRows(events))
}

// Copier is what CopyEvents needs: a *pgx.Conn or a *pgxpool.Pool.
type Copier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, rows pgx.CopyFromSource) (int64, error)
}

func eventRows(events []Event) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(events), func(i int) ([]any, error) { return events[i].Values(), nil })
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func receivedAt(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

func relatedIDs(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}
