package app

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/services/event-writer/internal/ewtest"
	"github.com/stripeline/stripeline/services/event-writer/internal/replay"
	"github.com/stripeline/stripeline/services/event-writer/internal/writer"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/tcpproxy"
	"github.com/stripeline/stripeline/tools/testenv"
)

func TestWritesEveryEventOnceAndCommitsAfter(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	pool := testenv.Pool(t, cfg.Database.URL)
	prod := ewtest.Producer(t, cfg.Kafka.Brokers)
	events := loadgen.Seeded(loadgen.RandomSeed()).Events(1500)
	// Stripe redelivers: a tenth of the events come twice.
	published := append(append([]loadgen.Event{}, events...), events[:150]...)
	if err := prod.SendEvents(ctx, cfg.Kafka.Topic, published); err != nil {
		t.Fatal(err)
	}
	startWriter(t, cfg)

	testenv.Eventually(t, 60*time.Second, func() error { return ewtest.SameIDs(t, pool, events) })
	var payload []byte
	if err := pool.QueryRow(ctx, "SELECT payload::text FROM stripe_events WHERE event_id = $1", events[7].ID).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(payload), events[7].ObjectID) {
		t.Fatalf("payload of %s does not hold its object %s", events[7].ID, events[7].ObjectID)
	}
	// Every offset ends up committed once its batch is in.
	end := testenv.EndOffsets(t, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	testenv.Eventually(t, 30*time.Second, func() error {
		got := ewtest.Committed(t, cfg.Kafka.Brokers, cfg.ConsumerGroup, cfg.Kafka.Topic)
		for p, off := range end {
			if got[p] != off {
				return fmt.Errorf("partition %d committed %d, end %d", p, got[p], off)
			}
		}
		return nil
	})
}

func TestPoisonGoesAsideAndThePartitionMovesOn(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	pool := testenv.Pool(t, cfg.Database.URL)
	prod := ewtest.Producer(t, cfg.Kafka.Brokers)
	ev := loadgen.Seeded(loadgen.RandomSeed()).Events(2)
	// One key: everything lands on one partition, the good event after the
	// poison must still be written.
	key := ev[0].ObjectID
	msgs := []*sarama.ProducerMessage{
		loadgen.RawMessage(cfg.Kafka.Topic, key, ev[0].Body, nil),
		loadgen.RawMessage(cfg.Kafka.Topic, key, []byte("this is not json"), map[string]string{"event_id": "evt_bad"}),
		loadgen.RawMessage(cfg.Kafka.Topic, key, []byte(`{"type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`), nil),
		loadgen.RawMessage(cfg.Kafka.Topic, key, ev[1].Body, nil),
	}
	if err := prod.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	startWriter(t, cfg)

	testenv.Eventually(t, 60*time.Second, func() error { return ewtest.SameIDs(t, pool, ev) })
	poison := ewtest.ReadTopic(t, cfg.Kafka.Brokers, cfg.Kafka.PoisonTopic(), 2)
	for i, want := range []struct{ body, reason string }{
		{"this is not json", "not a JSON object"},
		{`{"type":"charge.succeeded"`, "missing id"},
	} {
		m := poison[i]
		if !strings.HasPrefix(string(m.Value), want.body) {
			t.Errorf("poison %d body = %q, want the original %q…", i, m.Value, want.body)
		}
		if r := ewtest.Header(m, kafka.HeaderPoisonReason); !strings.HasPrefix(r, kafka.ReasonNotAnEvent+": ") || !strings.Contains(r, want.reason) {
			t.Errorf("poison %d reason = %q, want %q and that it says %q", i, r, kafka.ReasonNotAnEvent+": …", want.reason)
		}
		if src := ewtest.Header(m, kafka.HeaderPoisonTopic); src != cfg.Kafka.Topic {
			t.Errorf("poison %d source topic = %q, want %q", i, src, cfg.Kafka.Topic)
		}
		if off := ewtest.Header(m, kafka.HeaderPoisonOffset); off != fmt.Sprint(i+1) {
			t.Errorf("poison %d source offset = %q, want %d", i, off, i+1)
		}
		if string(m.Key) != key {
			t.Errorf("poison %d key = %q, want %q", i, m.Key, key)
		}
	}
	if id := ewtest.Header(poison[0], "event_id"); id != "evt_bad" {
		t.Errorf("poison kept headers: event_id = %q, want evt_bad", id)
	}
}

// The writer reaches Postgres through a proxy; cutting it is a database
// outage for the writer only.
func TestDatabaseOutageLosesNothingAndCommitsNothing(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	pool := testenv.Pool(t, cfg.Database.URL)
	proxy := proxyDatabase(t, &cfg)

	prod := ewtest.Producer(t, cfg.Kafka.Brokers)
	gen := loadgen.Seeded(loadgen.RandomSeed())
	before := gen.Events(300)
	if err := prod.SendEvents(ctx, cfg.Kafka.Topic, before); err != nil {
		t.Fatal(err)
	}
	startWriter(t, cfg)
	testenv.Eventually(t, 60*time.Second, func() error { return ewtest.SameIDs(t, pool, before) })
	end := testenv.EndOffsets(t, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := ewtest.Committed(t, cfg.Kafka.Brokers, cfg.ConsumerGroup, cfg.Kafka.Topic); fmt.Sprint(got) != fmt.Sprint(end) {
			return fmt.Errorf("committed %v, want %v", got, end)
		}
		return nil
	})

	proxy.Cut()
	during := gen.Events(500)
	if err := prod.SendEvents(ctx, cfg.Kafka.Topic, during); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, func() error {
		if readyz(cfg) == nil {
			return fmt.Errorf("/readyz still ready while the database is unreachable")
		}
		return nil
	})
	// Let the writer fail for a while: it must keep retrying, commit nothing.
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if got := ewtest.Committed(t, cfg.Kafka.Brokers, cfg.ConsumerGroup, cfg.Kafka.Topic); fmt.Sprint(got) != fmt.Sprint(end) {
			t.Fatalf("offsets committed during the outage: %v, before it %v", got, end)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(ewtest.StoredIDs(t, pool)); n != len(before) {
		t.Fatalf("%d rows during the outage, want %d", n, len(before))
	}

	proxy.Restore()
	all := append(before, during...)
	testenv.Eventually(t, 60*time.Second, func() error { return ewtest.SameIDs(t, pool, all) })
	testenv.Eventually(t, 30*time.Second, func() error { return readyz(cfg) })
	end = testenv.EndOffsets(t, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	testenv.Eventually(t, 30*time.Second, func() error {
		if got := ewtest.Committed(t, cfg.Kafka.Brokers, cfg.ConsumerGroup, cfg.Kafka.Topic); fmt.Sprint(got) != fmt.Sprint(end) {
			return fmt.Errorf("committed %v, want %v", got, end)
		}
		return nil
	})
}

func TestReplayRestoresTheTable(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	pool := testenv.Pool(t, cfg.Database.URL)
	prod := ewtest.Producer(t, cfg.Kafka.Brokers)
	gen := loadgen.Seeded(loadgen.RandomSeed())
	first := gen.Events(400)
	if err := prod.SendEvents(ctx, cfg.Kafka.Topic, first); err != nil {
		t.Fatal(err)
	}
	// Broker timestamps have millisecond resolution: split on a fresh millisecond.
	split := time.Now().Add(2 * time.Millisecond).Truncate(time.Millisecond)
	for time.Now().Before(split.Add(time.Millisecond)) {
		time.Sleep(time.Millisecond)
	}
	second := gen.Events(300)
	if err := prod.SendEvents(ctx, cfg.Kafka.Topic, append(second, first[:50]...)); err != nil {
		t.Fatal(err)
	}
	if err := prod.Send(ctx, []*sarama.ProducerMessage{loadgen.RawMessage(cfg.Kafka.Topic, "k", []byte("poison"), nil)}); err != nil {
		t.Fatal(err)
	}
	all := append(append([]loadgen.Event{}, first...), second...)

	runReplay := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := Command(ctx, cfg, append([]string{"replay"}, args...), &out); err != nil {
			t.Fatalf("replay %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	empty := func() {
		t.Helper()
		if _, err := pool.Exec(ctx, "TRUNCATE stripe_events"); err != nil {
			t.Fatal(err)
		}
	}

	out := runReplay("--from", "earliest")
	if err := ewtest.SameIDs(t, pool, all); err != nil {
		t.Fatalf("replay from earliest into an empty table: %v\n%s", err, out)
	}
	if !strings.Contains(out, "replay progress") || !strings.Contains(out, "total=751") {
		t.Errorf("no progress line with the total (751 messages) in the output:\n%s", out)
	}
	// Again over a full table: nothing changes.
	runReplay("--from", "earliest")
	if err := ewtest.SameIDs(t, pool, all); err != nil {
		t.Fatalf("second replay: %v", err)
	}

	empty()
	runReplay("--from", split.Format(time.RFC3339Nano))
	if err := ewtest.SameIDs(t, pool, append(append([]loadgen.Event{}, second...), first[:50]...)); err != nil {
		t.Fatalf("replay --from %s: %v", split.Format(time.RFC3339Nano), err)
	}

	empty()
	runReplay("--from", "earliest", "--to", split.Add(-time.Millisecond).Format(time.RFC3339Nano))
	if err := ewtest.SameIDs(t, pool, first); err != nil {
		t.Fatalf("replay --to: %v", err)
	}

	// On a terminal: a bar with done/total, rate and ETA instead of lines.
	var bar bytes.Buffer
	rc, err := replayFlags(cfg, []string{"--from", "earliest"}, &bar)
	if err != nil {
		t.Fatal(err)
	}
	rc.Terminal = true
	w := writer.New(writerConfig(cfg, nil), poolStore{pool}, testLogger(t))
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go w.Run(wctx)
	if _, err := replay.Run(ctx, rc, w, testLogger(t)); err != nil {
		t.Fatal(err)
	}
	if s := bar.String(); !strings.Contains(s, "751/751") || !strings.Contains(s, "events/s") {
		t.Errorf("progress bar output lacks done/total or rate: %q", s)
	}

	var bad bytes.Buffer
	if err := Command(ctx, cfg, []string{"replay", "--from", "yesterday"}, &bad); err == nil || !strings.Contains(err.Error(), "RFC 3339") {
		t.Fatalf("replay --from yesterday: err = %v, want a usage error", err)
	}
}

// An event PostgreSQL refuses even raw (a NUL in its id) goes to the poison
// topic alone: the events around it on its partition, and in its group
// commit, are stored, one of them raw. redrive sends it back, filtered by
// reason, without the poison headers and with its key.
func TestUnstorableGoesAsideAloneAndRedriveSendsItBack(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	pool := testenv.Pool(t, cfg.Database.URL)
	prod := ewtest.Producer(t, cfg.Kafka.Brokers)
	ev := loadgen.Seeded(loadgen.RandomSeed()).Events(2)
	key := ev[0].ObjectID
	body := func(id, extra string) []byte { // id as JSON
		return []byte(fmt.Sprintf(`{"id":%s,"object":"event","type":"charge.updated","created":1700000000,`+
			`"data":{"object":{"id":%q,"object":"charge"%s}}}`, id, key, extra))
	}
	msgs := []*sarama.ProducerMessage{
		loadgen.RawMessage(cfg.Kafka.Topic, key, ev[0].Body, nil),
		loadgen.RawMessage(cfg.Kafka.Topic, key, body(`"evt_nul\u0000id"`, ""), map[string]string{"event_id": "evt_nul"}),
		loadgen.RawMessage(cfg.Kafka.Topic, key, body(`"evt_raw"`, `,"description":"a\u0000b"`), nil),
		loadgen.RawMessage(cfg.Kafka.Topic, key, ev[1].Body, nil),
	}
	if err := prod.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	startWriter(t, cfg)

	stored := []string{ev[0].ID, "evt_raw", ev[1].ID}
	testenv.Eventually(t, 60*time.Second, func() error {
		if got := ewtest.StoredIDs(t, pool); fmt.Sprint(got) != fmt.Sprint(sortedCopy(stored)) {
			return fmt.Errorf("stored %v, want %v", got, sortedCopy(stored))
		}
		return nil
	})
	poison := ewtest.ReadTopic(t, cfg.Kafka.Brokers, cfg.Kafka.PoisonTopic(), 1)
	if r := ewtest.Header(poison[0], kafka.HeaderPoisonReason); !strings.HasPrefix(r, kafka.ReasonUnstorable+": ") || string(poison[0].Key) != key {
		t.Fatalf("poison reason %q key %q; want %s: … and key %s", r, poison[0].Key, kafka.ReasonUnstorable, key)
	}

	redrive := func(args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := Command(ctx, cfg, append([]string{"redrive"}, args...), &out); err != nil {
			t.Fatalf("redrive %v: %v\n%s", args, err, out.String())
		}
		return out.String()
	}
	if out := redrive("--reason", kafka.ReasonNotAnEvent); !strings.Contains(out, "sent_back=0") || !strings.Contains(out, "skipped=1") {
		t.Errorf("redrive of another reason sent something back:\n%s", out)
	}
	if out := redrive("--reason", kafka.ReasonUnstorable, "--dry-run"); !strings.Contains(out, "sent_back=1") {
		t.Errorf("dry run does not count the message:\n%s", out)
	}
	before := testenv.EndOffsets(t, cfg.Kafka.Brokers, cfg.Kafka.Topic)
	redrive("--reason", kafka.ReasonUnstorable)
	all := ewtest.ReadTopic(t, cfg.Kafka.Brokers, cfg.Kafka.Topic, len(msgs)+1)
	back := all[len(all)-1]
	if back.Offset != before[back.Partition] || string(back.Key) != key || ewtest.Header(back, "event_id") != "evt_nul" ||
		!bytes.Equal(back.Value, msgs[1].Value.(sarama.ByteEncoder)) {
		t.Fatalf("sent back: offset %d (end was %v), key %q, body %q", back.Offset, before, back.Key, back.Value)
	}
	for _, h := range kafka.PoisonHeaders {
		if v := ewtest.Header(back, h); v != "" {
			t.Errorf("sent back with poison header %s=%q", h, v)
		}
	}
	if err := Command(ctx, cfg, []string{"redrive", "--reason", "typo"}, io.Discard); err == nil {
		t.Error("redrive --reason typo: no error")
	}
}

func sortedCopy(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// Started before its database and its broker, the writer waits for each
// (logging that once), then serves: it does not exit.
func TestStartsBeforeItsDependencies(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	proxy := proxyDatabase(t, &cfg)
	proxy.Cut()
	brokerAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Kafka.Brokers = []string{brokerAddr}

	var logs testenv.Buffer
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- Run(runCtx, cfg, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	waiting := func(dep string) func() error {
		return func() error {
			if !strings.Contains(logs.String(), "waiting for a dependency") || !strings.Contains(logs.String(), "dependency="+dep) {
				return fmt.Errorf("no line about waiting for %s yet", dep)
			}
			return nil
		}
	}
	testenv.Eventually(t, 30*time.Second, waiting("database"))
	// The ops listener is open while the writer waits, and says not ready.
	testenv.Eventually(t, 30*time.Second, func() error { return notReady(cfg) })
	proxy.Restore()
	testenv.Eventually(t, 30*time.Second, waiting("kafka"))
	if err := notReady(cfg); err != nil {
		t.Fatalf("while no broker answers: %v", err)
	}
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: brokerAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testenv.Eventually(t, 60*time.Second, func() error { return readyz(cfg) })
	select {
	case err := <-done:
		t.Fatalf("Run returned while its dependencies came: %v", err)
	default:
	}
}

// proxyDatabase points cfg's database URL at a proxy of it, which a test
// cuts and restores: a database outage for the writer only.
func proxyDatabase(t *testing.T, cfg *config.Config) *tcpproxy.Proxy {
	t.Helper()
	direct, err := pgx.ParseConfig(cfg.Database.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := tcpproxy.New("127.0.0.1:0", fmt.Sprintf("%s:%d", direct.Host, direct.Port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	cfg.Database.URL = fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&connect_timeout=2", direct.User, proxy.Addr(), direct.Database)
	return proxy
}
