package app

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/testenv"
)

// missedStripe is a Stripe whose event list holds two events no webhook
// brought: a PaymentIntent's created and succeeded, in one second.
func missedStripe(t *testing.T) *httptest.Server {
	t.Helper()
	events := `[` +
		`{"id":"evt_missed_2","object":"event","type":"payment_intent.succeeded","created":1700000000,"data":{"object":{"id":"pi_missed","object":"payment_intent","status":"succeeded"}}},` +
		`{"id":"evt_missed_1","object":"event","type":"payment_intent.created","created":1700000000,"data":{"object":{"id":"pi_missed","object":"payment_intent","status":"requires_payment_method"}}}]`
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.Header.Get("Authorization") != "Bearer rk_test_eventsReadOnly0123456789" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"stub"}}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"object":"list","url":"/v1/events","has_more":false,"data":%s}`, events)
	}))
	t.Cleanup(s.Close)
	return s
}

// storedMissed waits until both missed events are rows and pi_missed's
// state is the succeeded one.
func storedMissed(t *testing.T, dbURL string) {
	t.Helper()
	pool := testenv.Pool(t, dbURL)
	testenv.Eventually(t, 60*time.Second, func() error {
		var rows int
		var status string
		err := pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM stripe_events WHERE event_id LIKE 'evt_missed_%'),
			coalesce((SELECT payload->>'status' FROM stripe_objects WHERE id = 'pi_missed'), '')`).Scan(&rows, &status)
		if err != nil || rows != 2 || status != "succeeded" {
			return fmt.Errorf("%d rows, pi_missed %q, %v; want 2 and succeeded", rows, status, err)
		}
		return nil
	})
}

// `event-writer backfill` publishes what Stripe lists and the table lacks;
// the running writer stores it, objects included; a second backfill finds
// nothing missing.
func TestBackfillCommandStoresMissedEvents(t *testing.T) {
	cfg := testConfig(t)
	cfg.StripeEventsKey, cfg.StripeAPIBase = "rk_test_eventsReadOnly0123456789", missedStripe(t).URL
	startWriter(t, cfg)
	ctx := context.Background()
	if err := Command(ctx, cfg, []string{"backfill", "--since", "72h"}, logWriter(t)); err != nil {
		t.Fatal(err)
	}
	storedMissed(t, cfg.Database.URL)
	if err := Command(ctx, cfg, []string{"backfill", "--since", "72h"}, logWriter(t)); err != nil {
		t.Fatal(err)
	}
	msgs := testenv.TopicMessages(t, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	if len(msgs) != 2 {
		t.Fatalf("%d messages on the topic after two backfills, want 2: the second found nothing missing", len(msgs))
	}
	if err := Command(ctx, cfg, []string{"backfill", "--since", "800h"}, logWriter(t)); err == nil {
		t.Fatal("--since 800h accepted; Stripe keeps 30 days")
	}
}

// With EVENT_WRITER_RECONCILE_EVERY the running writer does the same by
// itself, at start and then periodically.
func TestReconcileInTheRunningWriter(t *testing.T) {
	cfg := testConfig(t)
	cfg.StripeEventsKey, cfg.StripeAPIBase = "rk_test_eventsReadOnly0123456789", missedStripe(t).URL
	cfg.ReconcileEvery, cfg.ReconcileWindow = time.Hour, 72*time.Hour
	startWriter(t, cfg)
	storedMissed(t, cfg.Database.URL)
}
