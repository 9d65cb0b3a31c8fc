package main

// These tests run the real binary as processes: SIGKILL, replicas and
// concurrent migrations are about processes, not goroutines.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/loadgen"
	"github.com/stripeline/stripeline/pkg/testenv"
	"github.com/stripeline/stripeline/services/event-writer/internal/ewtest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "event-writer-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "event-writer")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build event-writer:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writerEnv is one writer deployment: a topic, a group, a database.
type writerEnv struct {
	brokers []string
	topic   string
	group   string
	dbURL   string
}

func newWriterEnv(t *testing.T) writerEnv {
	return writerEnv{
		brokers: []string{testenv.Broker(t)},
		topic:   testenv.Topic(t),
		group:   "event-writer-" + devstack.RandomHex(4),
		dbURL:   testenv.Database(t),
	}
}

// logWriter collects a process's output for the test log on failure.
type logWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// start runs a writer process and waits until it is ready; it is stopped
// when the test ends. It returns the process and its ops address.
func (e writerEnv) start(t *testing.T, name string) (*devstack.Process, string) {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logWriter{}
	p, err := devstack.Start(devstack.ProcessConfig{
		Name: name, Path: binary, Log: logs,
		Env: []string{
			"DATABASE_URL=" + e.dbURL, "KAFKA_BROKERS=" + e.brokers[0], "KAFKA_TOPIC=" + e.topic,
			"EVENT_WRITER_GROUP=" + e.group, "EVENT_WRITER_ADDR=" + addr,
			"EVENT_WRITER_BATCH_SIZE=100", "LOG_FORMAT=text",
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Stop(10 * time.Second)
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs.buf.String())
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := devstack.WaitReady(ctx, p, "http://"+addr+"/readyz"); err != nil {
		t.Fatalf("%s: %v\n%s", name, err, logs.buf.String())
	}
	return p, addr
}

// stream publishes events in chunks with pauses, a tenth of them twice, and
// returns every event published once it is done.
func stream(t *testing.T, e writerEnv, chunks, perChunk int, pause time.Duration) (<-chan []loadgen.Event, func() int) {
	t.Helper()
	prod := ewtest.Producer(t, e.brokers)
	gen := loadgen.Seeded(loadgen.RandomSeed())
	var mu sync.Mutex
	sent := 0
	done := make(chan []loadgen.Event, 1)
	go func() {
		var all []loadgen.Event
		for range chunks {
			events := gen.Events(perChunk)
			if err := prod.SendEvents(context.Background(), e.topic, append(events, events[:perChunk/10]...)); err != nil {
				t.Errorf("publish: %v", err)
				break
			}
			all = append(all, events...)
			mu.Lock()
			sent += len(events)
			mu.Unlock()
			time.Sleep(pause)
		}
		done <- all
	}()
	return done, func() int { mu.Lock(); defer mu.Unlock(); return sent }
}

func rows(t *testing.T, pool *pgxpool.Pool) int {
	var n int
	if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM stripe_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSIGKILLMidStreamLosesAndDuplicatesNothing(t *testing.T) {
	e := newWriterEnv(t)
	pool := testenv.Pool(t, e.dbURL)
	// A backlog keeps the writer busy writing batches when the kill comes,
	// so the kill lands between a batch's read and its commit, where a
	// writer that acknowledged too early would lose it.
	backlog := loadgen.Seeded(loadgen.RandomSeed()).Events(6000)
	if err := ewtest.Producer(t, e.brokers).SendEvents(context.Background(), e.topic, backlog); err != nil {
		t.Fatal(err)
	}
	p, _ := e.start(t, "writer-1")
	const chunks, perChunk = 40, 200
	done, sent := stream(t, e, chunks, perChunk, 50*time.Millisecond)

	testenv.Eventually(t, 60*time.Second, func() error {
		if n := rows(t, pool); n < 1500 {
			return fmt.Errorf("%d rows so far", n)
		}
		return nil
	})
	p.Kill()
	if s := sent(); s >= chunks*perChunk {
		t.Fatalf("the stream had ended (%d events) before the kill: not mid-stream", s)
	}
	t.Logf("killed with %d of %d events published", sent(), chunks*perChunk)

	e.start(t, "writer-2")
	all := append(<-done, backlog...)
	testenv.Eventually(t, 90*time.Second, func() error { return ewtest.SameIDs(t, pool, all) })
}

func TestReplicasSplitPartitionsAndTakeOver(t *testing.T) {
	e := newWriterEnv(t)
	pool := testenv.Pool(t, e.dbURL)
	a, addrA := e.start(t, "writer-a")
	_, addrB := e.start(t, "writer-b")
	// As in the SIGKILL test: the kill must find batches in flight.
	backlog := loadgen.Seeded(loadgen.RandomSeed()).Events(6000)
	if err := ewtest.Producer(t, e.brokers).SendEvents(context.Background(), e.topic, backlog); err != nil {
		t.Fatal(err)
	}
	const chunks, perChunk = 60, 100
	done, sent := stream(t, e, chunks, perChunk, 100*time.Millisecond)

	// Both write: the group split the partitions between them (each writes
	// only the partitions it holds).
	testenv.Eventually(t, 60*time.Second, func() error {
		for _, addr := range []string{addrA, addrB} {
			rows, err := ewtest.Metric(addr, "event_writer_rows_inserted_total")
			if err != nil {
				return err
			}
			if rows == 0 {
				return fmt.Errorf("%s has written nothing yet", addr)
			}
		}
		return nil
	})
	a.Kill()
	if s := sent(); s >= chunks*perChunk {
		t.Fatalf("the stream had ended (%d events) before the kill", s)
	}
	// The survivor takes every partition once the group notices: everything
	// is stored, the killed one's partitions included.
	all := append(<-done, backlog...)
	testenv.Eventually(t, 90*time.Second, func() error { return ewtest.SameIDs(t, pool, all) })
}

func TestMigrateCommandConcurrentStarts(t *testing.T) {
	url := testenv.EmptyDatabase(t)
	const n = 4
	errs := make(chan error, n)
	for i := range n {
		go func() {
			cmd := exec.Command(binary, "migrate")
			cmd.Env = append(os.Environ(), "DATABASE_URL="+url, "LOG_FORMAT=text")
			out, err := cmd.CombinedOutput()
			if err != nil {
				err = fmt.Errorf("migrate #%d: %v\n%s", i, err, out)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	var tables int
	err := testenv.Pool(t, url).QueryRow(context.Background(),
		"SELECT count(*) FROM information_schema.tables WHERE table_name IN ('stripe_events', 'schema_migrations')").Scan(&tables)
	if err != nil || tables != 2 {
		t.Fatalf("after migrate: %d of 2 tables (%v)", tables, err)
	}
}
