package pgstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/testenv"
)

// Replicas starting at once each run Migrate on the same empty database: the
// advisory lock must let exactly one apply each migration and the others
// find it done.
func TestMigrateConcurrentStarts(t *testing.T) {
	ctx := context.Background()
	url := testenv.EmptyDatabase(t)
	const replicas = 6
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		applied int
		errs    []error
	)
	for range replicas {
		wg.Go(func() {
			pool, err := pgxpool.New(ctx, url)
			if err == nil {
				defer pool.Close()
				var n int
				n, err = pgstore.Migrate(ctx, pool)
				mu.Lock()
				applied += n
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent Migrate: %v", errs)
	}
	pool := testenv.Pool(t, url)
	var versions int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions == 0 || applied != versions {
		t.Fatalf("applied %d migrations across replicas, schema_migrations has %d; want equal and > 0", applied, versions)
	}
	if _, err := pool.Exec(ctx, "SELECT event_id, payload FROM stripe_events LIMIT 1"); err != nil {
		t.Fatalf("stripe_events after migration: %v", err)
	}
	if n, err := pgstore.Migrate(ctx, pool); err != nil || n != 0 {
		t.Fatalf("Migrate again = %d, %v; want 0, nil", n, err)
	}
}
