package chaos

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// storeWatcher learns when each accepted event reaches stripe_events, by
// asking, a few times a second, about the accepted events not yet seen
// there. It reads PostgreSQL directly, not through the writers' proxy.
type storeWatcher struct {
	pool *pgxpool.Pool

	mu      sync.Mutex
	pending map[string]time.Time // event id → accepted at
	stored  map[string]time.Time // event id → first seen stored
}

func newStoreWatcher(pool *pgxpool.Pool) *storeWatcher {
	return &storeWatcher{pool: pool, pending: map[string]time.Time{}, stored: map[string]time.Time{}}
}

func (w *storeWatcher) add(id string, acceptedAt time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.stored[id]; !ok {
		w.pending[id] = acceptedAt
	}
}

func (w *storeWatcher) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
		w.mu.Lock()
		ids := make([]string, 0, len(w.pending))
		for id := range w.pending {
			ids = append(ids, id)
		}
		w.mu.Unlock()
		if len(ids) == 0 {
			continue
		}
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		rows, err := w.pool.Query(qctx, `SELECT event_id FROM stripe_events WHERE event_id = ANY($1)`, ids)
		if err != nil {
			cancel()
			continue // the table may not exist yet; the next round asks again
		}
		var found []string
		for rows.Next() {
			var id string
			if rows.Scan(&id) == nil {
				found = append(found, id)
			}
		}
		rows.Close()
		cancel()
		now := time.Now()
		w.mu.Lock()
		for _, id := range found {
			delete(w.pending, id)
			w.stored[id] = now
		}
		w.mu.Unlock()
	}
}

// caughtUp reports whether every event accepted before t is stored.
func (w *storeWatcher) caughtUp(t time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, at := range w.pending {
		if at.Before(t) {
			return false
		}
	}
	return true
}

// pendingCount is how many accepted events are not stored yet.
func (w *storeWatcher) pendingCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.pending)
}

// rowCounts reads every event id in stripe_events with its row count; the
// primary key should make every count 1, and the check says so if not.
func rowCounts(ctx context.Context, pool *pgxpool.Pool) (map[string]int, int, error) {
	rows, err := pool.Query(ctx, `SELECT event_id, count(*) FROM stripe_events GROUP BY event_id`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]int{}
	total := 0
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, 0, err
		}
		out[id] = n
		total += n
	}
	return out, total, rows.Err()
}
