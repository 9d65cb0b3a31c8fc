package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Event is one row of stripe_events.
type Event struct {
	stripeevent.Envelope
	ReceivedAt time.Time
	Payload    json.RawMessage
	// Raw and PayloadError are set, as read back, on a row whose body jsonb
	// refused: Payload is nil, Raw holds the body, PayloadError says why.
	Raw          []byte
	PayloadError string
}

// EventColumns are the columns of stripe_events, in the order of Event.Values.
var EventColumns = []string{"event_id", "id", "type", "object_type", "related_ids",
	"livemode", "api_version", "created", "received_at", "payload"}

// Values is the event as a row of EventColumns.
func (e Event) Values() []any {
	return []any{e.ID, e.ObjectID, e.Type, nullable(e.ObjectType), relatedIDs(e.RelatedIDs),
		e.Livemode, nullable(e.APIVersion), nullableTime(e.Created), receivedAt(e.ReceivedAt), []byte(e.Payload)}
}

// Stored is what InsertEvents did with a group of events.
type Stored struct {
	// Inserted counts new rows, Raw those of them stored with the body in
	// payload_raw because jsonb refused it, and Duplicates the events whose
	// event_id was already stored (or came twice in the group).
	Inserted, Raw, Duplicates int
	// Refused holds, by index in the group, the events that could not be
	// stored at all, with the database's reason: an envelope field the text
	// columns refuse (a NUL byte). Nothing else of the group is held back.
	Refused map[int]error
}

// InsertEvents writes the events in one transaction; an event already stored
// (or twice in events) is skipped. An error means nothing was written, and
// that trying again later may work (the database is away, a deadline ended).
//
// The same transaction brings stripe_objects up to date with the group
// (stripe_objects_apply, migrations 0003 and 0004): newer-wins by the event's created
// time, the object's lifecycle rank, then the event id, so redelivery and
// replay never move an object back.
//
// The group is one pipelined batch of single-row INSERT … ON CONFLICT DO
// NOTHING, sent in one round trip and run by PostgreSQL as one implicit
// transaction: the event-writer's groups are small (one message in flight
// per partition), where a batch beats COPY through a staging table. The rows
// go in event_id order, so two writers whose groups share ids (a
// redelivery racing a replay) wait for each other instead of deadlocking.
//
// A group the database refuses as data (SQLSTATE class 22: a body jsonb
// cannot hold, a NUL in a text field) is written again row by row, each
// under a savepoint: a body jsonb refuses is stored raw (payload NULL,
// payload_raw, payload_error), and an event refused even so is left out and
// reported in Stored.Refused.
func InsertEvents(ctx context.Context, pool *pgxpool.Pool, events []Event) (Stored, error) {
	if len(events) == 0 {
		return Stored{}, nil
	}
	order := make([]int, len(events))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return strings.Compare(events[a].ID, events[b].ID) })
	batch := &pgx.Batch{}
	for _, i := range order {
		batch.Queue(insertOne, events[i].Values()...)
	}
	batch.Queue(applyObjects, eventIDs(events))
	st, err := sendBatch(ctx, pool, batch, len(events))
	if IsDataError(err) {
		return insertOneByOne(ctx, pool, events, order)
	}
	return st, err
}

// applyObjects brings stripe_objects up to date with the stored events of
// the ids in $1 (migrations 0003 and 0004).
const applyObjects = `SELECT stripe_objects_apply_ids($1)`

func eventIDs(events []Event) []string {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID
	}
	return ids
}

// sendBatch runs batch, whose first inserts statements are the inserts and
// the last applyObjects.
func sendBatch(ctx context.Context, pool *pgxpool.Pool, batch *pgx.Batch, inserts int) (Stored, error) {
	var st Stored
	br := pool.SendBatch(ctx, batch)
	for range inserts {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return Stored{}, fmt.Errorf("insert events: %w", err)
		}
		if tag.RowsAffected() == 1 {
			st.Inserted++
		} else {
			st.Duplicates++
		}
	}
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return Stored{}, fmt.Errorf("apply events to stripe_objects: %w", err)
	}
	if err := br.Close(); err != nil {
		return Stored{}, fmt.Errorf("insert events: %w", err)
	}
	return st, nil
}

// IsDataError reports whether err is PostgreSQL refusing a value (SQLSTATE
// class 22, data exception): the same value is refused every time.
func IsDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22")
}

var (
	insertOne = fmt.Sprintf(`INSERT INTO stripe_events (%s) VALUES (%s) ON CONFLICT (event_id) DO NOTHING`,
		strings.Join(EventColumns, ", "), placeholders(len(EventColumns)))
	rawColumns = append(append(slices.Clone(EventColumns[:len(EventColumns)-1]), "payload_raw"), "payload_error")
	insertRaw  = fmt.Sprintf(`INSERT INTO stripe_events (%s) VALUES (%s) ON CONFLICT (event_id) DO NOTHING`,
		strings.Join(rawColumns, ", "), placeholders(len(rawColumns)))
)

func placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(ps, ", ")
}

// insertOneByOne is InsertEvents' way through a group the database refused
// as data: each event under a savepoint, raw when jsonb refuses its body.
func insertOneByOne(ctx context.Context, pool *pgxpool.Pool, events []Event, order []int) (Stored, error) {
	var st Stored
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		st = Stored{}
		for _, i := range order {
			e := events[i]
			tag, err := savepoint(ctx, tx, insertOne, e.Values()...)
			if IsDataError(err) {
				raw := append(e.Values()[:len(EventColumns)-1], []byte(e.Payload), err.Error())
				var rawErr error
				if tag, rawErr = savepoint(ctx, tx, insertRaw, raw...); rawErr == nil && tag.RowsAffected() == 1 {
					st.Raw++
				}
				err = rawErr
			}
			if IsDataError(err) {
				if st.Refused == nil {
					st.Refused = map[int]error{}
				}
				st.Refused[i] = err
				continue
			}
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 1 {
				st.Inserted++
			} else {
				st.Duplicates++
			}
		}
		// A refused event's id may be what PostgreSQL refused (a NUL):
		// only the stored ones are applied. Raw ones carry no object, and
		// stripe_objects_apply skips them.
		var stored []Event
		for i, e := range events {
			if _, refused := st.Refused[i]; !refused {
				stored = append(stored, e)
			}
		}
		if _, err := tx.Exec(ctx, applyObjects, eventIDs(stored)); err != nil {
			return fmt.Errorf("apply events to stripe_objects: %w", err)
		}
		return nil
	})
	if err != nil {
		return Stored{}, err
	}
	return st, nil
}

// savepoint runs one statement in a nested transaction of tx, so that a
// refused row leaves the rest of tx usable.
func savepoint(ctx context.Context, tx pgx.Tx, sql string, args ...any) (pgconn.CommandTag, error) {
	var tag pgconn.CommandTag
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error {
		var err error
		tag, err = sp.Exec(ctx, sql, args...)
		return err
	})
	return tag, err
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
