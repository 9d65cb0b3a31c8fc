package backfill_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/event-writer/internal/backfill"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

const stripeKey = "rk_test_eventsReadOnly0123456789"

var stripeMockURL string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	addr, err := devstack.FreeAddr()
	var mock *devstack.Process
	if err == nil {
		mock, err = devstack.StartStripeMock(ctx, addr, io.Discard)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stripe-mock:", err)
		os.Exit(1)
	}
	stripeMockURL = "http://" + addr
	code := m.Run()
	_ = mock.Stop(5 * time.Second)
	os.Exit(code)
}

// newWorld is a real broker topic, publisher and database for one test.
func newWorld(t *testing.T) (brokers []string, topic string, pub *kafka.Publisher, known backfill.Known, dbURL string) {
	t.Helper()
	brokers = []string{testenv.Broker(t)}
	topic = testenv.Topic(t)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "backfill-test"}, logging.Watermill(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	dbURL = testenv.Database(t)
	pool := testenv.Pool(t, dbURL)
	known = func(ctx context.Context, ids []string) (map[string]bool, error) {
		return pgstore.StoredEventIDs(ctx, pool, ids)
	}
	return brokers, topic, pub, known, dbURL
}

// Against stripe-mock's event list (one page, its fixture event): the event
// reaches the topic byte for byte as the list gave it, keyed and headed
// like ingest's messages.
func TestBackfillFromStripeMock(t *testing.T) {
	ctx := context.Background()
	brokers, topic, pub, known, _ := newWorld(t)
	src := backfill.NewStripe("sk_test_backfill0123456789", stripeMockURL, 10*time.Second)
	page, err := src.List(ctx, time.Now().Add(-72*time.Hour), "")
	if err != nil || len(page.Events) == 0 {
		t.Fatalf("stripe-mock's list: %d events, %v", len(page.Events), err)
	}
	st, err := backfill.Run(ctx, backfill.Config{Since: time.Now().Add(-72 * time.Hour), Topic: topic}, src, known, pub, slog.New(slog.DiscardHandler))
	if err != nil || st.Listed != len(page.Events) || st.Published != st.Listed-st.Invalid || st.Published == 0 {
		t.Fatalf("stats %+v, %v; want every listed event published", st, err)
	}
	msgs := testenv.TopicMessages(t, brokers, topic)
	if len(msgs) != st.Published {
		t.Fatalf("%d messages on the topic, want %d", len(msgs), st.Published)
	}
	env, _ := stripeevent.Parse(page.Events[0])
	if string(msgs[0].Value) != string(page.Events[0]) || string(msgs[0].Key) != env.ObjectID {
		t.Fatalf("message key %q value %s; want key %s and the list's bytes %s", msgs[0].Key, msgs[0].Value, env.ObjectID, page.Events[0])
	}
}

// pagedStripe serves GET /v1/events as Stripe does: newest first, limit,
// starting_after, has_more, created[gte]. Events carry a field stripe-go
// does not know, which re-encoding would drop.
type pagedStripe struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string // starting_after of each request
}

func startPagedStripe(t *testing.T, events []string) *pagedStripe {
	t.Helper()
	s := &pagedStripe{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/events" || r.Method != http.MethodGet || r.Header.Get("Authorization") != "Bearer "+stripeKey {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"bad request to the stub"}}`))
			return
		}
		q := r.URL.Query()
		limit, _ := strconv.Atoi(q.Get("limit"))
		if limit <= 0 || q.Get("created[gte]") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","message":"limit and created[gte] expected"}}`))
			return
		}
		after := q.Get("starting_after")
		s.mu.Lock()
		s.requests = append(s.requests, after)
		s.mu.Unlock()
		start := 0
		if after != "" {
			start = slices.IndexFunc(events, func(e string) bool { return idOf(e) == after }) + 1
		}
		end := min(start+3, len(events)) // pages of 3, whatever limit asks
		page := map[string]any{"object": "list", "url": "/v1/events", "has_more": end < len(events), "data": rawAll(events[start:end])}
		b, _ := json.Marshal(page)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func rawAll(events []string) []json.RawMessage {
	out := make([]json.RawMessage, len(events))
	for i, e := range events {
		out[i] = json.RawMessage(e)
	}
	return out
}

func idOf(e string) string {
	var v struct{ ID string }
	_ = json.Unmarshal([]byte(e), &v)
	return v.ID
}

func stubEvent(n int) string {
	return fmt.Sprintf(`{"id":"evt_bf_%02d","object":"event","type":"charge.succeeded","created":%d,"livemode":false,"api_version":"2099-01-01.future","future_field":{"kept":true},"data":{"object":{"id":"ch_bf_%02d","object":"charge","status":"succeeded"}}}`,
		n, 1700000000-n, n)
}

// Several pages with has_more: every event the table lacks is published,
// once and byte for byte; the stored ones are skipped; a second run
// publishes only what is still missing.
func TestBackfillPagesAndSkipsStored(t *testing.T) {
	ctx := context.Background()
	brokers, topic, pub, known, dbURL := newWorld(t)
	var events []string
	for n := range 8 {
		events = append(events, stubEvent(n))
	}
	stub := startPagedStripe(t, events)
	// Two are stored already, as if their webhooks had come.
	var stored []pgstore.Event
	for _, n := range []int{1, 6} {
		env, err := stripeevent.Parse([]byte(events[n]))
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, pgstore.Event{Envelope: env, Payload: json.RawMessage(events[n])})
	}
	if _, err := pgstore.InsertEvents(ctx, testenv.Pool(t, dbURL), stored); err != nil {
		t.Fatal(err)
	}
	src := backfill.NewStripe(stripeKey, stub.URL, 10*time.Second)
	cfg := backfill.Config{Since: time.Now().Add(-72 * time.Hour), Topic: topic}
	st, err := backfill.Run(ctx, cfg, src, known, pub, slog.New(slog.DiscardHandler))
	if err != nil || st.Listed != 8 || st.Stored != 2 || st.Published != 6 {
		t.Fatalf("stats %+v, %v; want 8 listed, 2 stored, 6 published", st, err)
	}
	if got := fmt.Sprint(stub.requests); got != "[ evt_bf_02 evt_bf_05]" {
		t.Fatalf("pages asked starting after %s, want [ evt_bf_02 evt_bf_05]", got)
	}
	msgs := testenv.TopicMessages(t, brokers, topic)
	got := map[string]string{}
	for _, m := range msgs {
		got[idOf(string(m.Value))] = string(m.Value)
	}
	for n, e := range events {
		want := n != 1 && n != 6
		if body, ok := got[idOf(e)]; ok != want || (ok && body != e) {
			t.Errorf("event %d on the topic: %v (%s); want %v, byte for byte", n, ok, body, want)
		}
	}
	if len(msgs) != 6 {
		t.Fatalf("%d messages, want 6", len(msgs))
	}
	// Dry run: counts, publishes nothing.
	cfg.DryRun = true
	if st, err = backfill.Run(ctx, cfg, src, known, pub, slog.New(slog.DiscardHandler)); err != nil || st.Published != 6 {
		t.Fatalf("dry run: %+v, %v", st, err)
	}
	if n := len(testenv.TopicMessages(t, brokers, topic)); n != 6 {
		t.Fatalf("a dry run published: %d messages", n)
	}
}

// The reconcile runs in one replica at a time: with the lock held
// elsewhere it counts "locked" and publishes nothing; holding it, it
// publishes what is missing and counts it.
func TestReconcileTakesTheLock(t *testing.T) {
	brokers, topic, pub, known, dbURL := newWorld(t)
	pool := testenv.Pool(t, dbURL)
	stub := startPagedStripe(t, []string{stubEvent(1), stubEvent(2)})
	src := backfill.NewStripe(stripeKey, stub.URL, 10*time.Second)
	m := backfill.Metrics{
		Found: prometheus.NewCounter(prometheus.CounterOpts{Name: "found"}),
		Runs:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "runs"}, []string{"outcome"}),
	}
	lock := func(ctx context.Context, fn func(context.Context) error) (bool, error) {
		return pgstore.TryLocked(ctx, pool, pgstore.ReconcileLock, fn)
	}
	cfg := backfill.ReconcileConfig{Every: time.Hour, Window: time.Hour, Topic: topic}
	run := func() {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- backfill.Reconcile(ctx, cfg, src, known, pub, lock, m, slog.New(slog.DiscardHandler)) }()
		// The first run is at start; the next an hour later: wait for the first.
		testenv.Eventually(t, 30*time.Second, func() error {
			if testutil.ToFloat64(m.Runs.WithLabelValues("ok"))+testutil.ToFloat64(m.Runs.WithLabelValues("locked"))+testutil.ToFloat64(m.Runs.WithLabelValues("error")) == 0 {
				return fmt.Errorf("no run yet")
			}
			return nil
		})
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// Another replica holds the lock for as long as this runs.
	held, release, freed := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(freed)
		_, _ = pgstore.TryLocked(context.Background(), pool, pgstore.ReconcileLock, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	run()
	close(release)
	<-freed // its transaction has ended, and the lock with it
	if locked, found := testutil.ToFloat64(m.Runs.WithLabelValues("locked")), testutil.ToFloat64(m.Found); locked != 1 || found != 0 {
		t.Fatalf("with the lock held elsewhere: locked %v, found %v; want 1 and 0", locked, found)
	}
	if n := len(testenv.TopicMessages(t, brokers, topic)); n != 0 {
		t.Fatalf("a locked-out reconcile published %d messages", n)
	}
	m.Runs.Reset()
	run()
	if ok, found := testutil.ToFloat64(m.Runs.WithLabelValues("ok")), testutil.ToFloat64(m.Found); ok != 1 || found != 2 {
		t.Fatalf("holding the lock: ok %v, found %v; want 1 and 2", ok, found)
	}
}
