package pgstore

import (
	"context"
	"encoding/json"
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

const insertEvent = `INSERT INTO stripe_events
	(event_id, id, type, object_type, related_ids, livemode, api_version, created, received_at, payload)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
	ON CONFLICT (event_id) DO NOTHING`

// InsertEvents writes the events in one transaction; an event already stored
// is skipped. It returns how many rows were new.
func InsertEvents(ctx context.Context, pool *pgxpool.Pool, events []Event) (int, error) {
	inserted := 0
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range events {
			b.Queue(insertEvent, e.ID, e.ObjectID, e.Type, nullable(e.ObjectType), relatedIDs(e.RelatedIDs),
				e.Livemode, nullable(e.APIVersion), nullableTime(e.Created), receivedAt(e.ReceivedAt), []byte(e.Payload))
		}
		br := tx.SendBatch(ctx, b)
		for range events {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			inserted += int(tag.RowsAffected())
		}
		return br.Close()
	})
	if err != nil {
		return 0, err
	}
	return inserted, nil
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
