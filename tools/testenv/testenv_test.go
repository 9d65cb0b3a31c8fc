package testenv

import (
	"context"
	"testing"

	"github.com/stripeline/stripeline/pkg/kafka"
)

func TestDatabaseIsMigratedAndOwn(t *testing.T) {
	a, b := Database(t), Database(t)
	if a == b {
		t.Fatal("two tests got the same database")
	}
	var n int
	if err := Pool(t, a).QueryRow(context.Background(), "SELECT count(*) FROM stripe_events").Scan(&n); err != nil {
		t.Fatalf("stripe_events missing in a test database: %v", err)
	}
}

func TestBrokerAnswers(t *testing.T) {
	if err := kafka.Reachable(context.Background(), []string{Broker(t)}); err != nil {
		t.Fatal(err)
	}
}
