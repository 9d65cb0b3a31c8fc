package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ReconcileLock is the advisory lock key held by the event-writer replica
// that reconciles with Stripe ("stripeR" in ASCII), so one runs at a time.
const ReconcileLock int64 = 0x73747269706552

// TryLocked runs fn while a transaction of pool holds the advisory lock
// key, and reports false without running it when another session holds
// the lock. The lock is transaction-level, like the migrations': it holds
// behind a transaction-pooling proxy, and ends with the transaction even
// if this process dies.
func TryLocked(ctx context.Context, pool *pgxpool.Pool, key int64, fn func(ctx context.Context) error) (bool, error) {
	ran := false
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var got bool
		if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", key).Scan(&got); err != nil {
			return fmt.Errorf("take lock %#x: %w", key, err)
		}
		if !got {
			return nil
		}
		ran = true
		return fn(ctx)
	})
	return ran, err
}

// StoredEventIDs reports which of ids are in stripe_events.
func StoredEventIDs(ctx context.Context, pool *pgxpool.Pool, ids []string) (map[string]bool, error) {
	rows, err := pool.Query(ctx, "SELECT event_id FROM stripe_events WHERE event_id = ANY($1)", ids)
	if err != nil {
		return nil, fmt.Errorf("look up stored events: %w", err)
	}
	ids, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("look up stored events: %w", err)
	}
	out := make(map[string]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
