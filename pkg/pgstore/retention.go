package pgstore

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// deleteBatch deletes at most $2 events received before $1. One small
// statement at a time: each holds its row locks only for its own rows, and
// the writer's inserts go on between batches.
const deleteBatch = `DELETE FROM stripe_events WHERE event_id IN (
	SELECT event_id FROM stripe_events WHERE received_at < $1 LIMIT $2)`

// DeleteEventsBefore deletes the events received before t, batch rows per
// statement, until none is left or ctx ends; it answers how many it deleted
// (those of the batches done, when it stops on an error).
func DeleteEventsBefore(ctx context.Context, pool *pgxpool.Pool, t time.Time, batch int) (int64, error) {
	if batch < 1 {
		return 0, errors.New("pgstore: DeleteEventsBefore needs a batch of at least 1")
	}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		tag, err := pool.Exec(ctx, deleteBatch, t, batch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < int64(batch) {
			return total, nil
		}
	}
}
