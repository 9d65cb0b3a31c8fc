package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/testenv"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/services/event-writer/internal/sample"
)

// testConfig is a writer on its own topic, group and database.
func testConfig(t *testing.T) config.Config {
	t.Helper()
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return config.Config{
		Addr:          addr,
		Log:           logging.Config{Level: "info", Format: "text"},
		Kafka:         kafka.Config{Brokers: []string{testenv.Broker(t)}, Topic: testenv.Topic(t)},
		Database:      pgstore.Config{URL: testenv.Database(t)},
		ConsumerGroup: "event-writer-" + devstack.RandomHex(4),
		BatchSize:     200,
		BatchLinger:   20 * time.Millisecond,
		RetryMin:      50 * time.Millisecond,
		RetryMax:      500 * time.Millisecond,
		ShutdownGrace: 5 * time.Second,
	}
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startWriter runs the writer in this process until the test ends, and
// fails the test if it stops with an error.
func startWriter(t *testing.T, cfg config.Config) {
	t.Helper()
	pool := testenv.Pool(t, cfg.Database.URL)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg, pool, testLogger(t)) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("writer stopped: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("writer did not stop within 30s")
		}
	})
	testenv.Eventually(t, 30*time.Second, func() error { return readyz(cfg) })
}

func readyz(cfg config.Config) error {
	resp, err := http.Get("http://" + cfg.Addr + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/readyz: %s", resp.Status)
	}
	return nil
}

func producer(t *testing.T, brokers []string) *sample.Producer {
	t.Helper()
	p, err := sample.NewProducer(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// storedIDs is every event_id in the table, sorted.
func storedIDs(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT event_id FROM stripe_events ORDER BY event_id")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// sameIDs compares the table with the distinct ids of the events published.
func sameIDs(t *testing.T, pool *pgxpool.Pool, events []sample.Event) error {
	want := map[string]bool{}
	for _, e := range events {
		want[e.ID] = true
	}
	got := storedIDs(t, pool)
	if len(got) != len(want) {
		return fmt.Errorf("%d rows, want %d", len(got), len(want))
	}
	for _, id := range got {
		if !want[id] {
			return fmt.Errorf("row %s was never published", id)
		}
	}
	return nil
}

// committed is the group's committed offset per partition of topic (-1: none).
func committed(t *testing.T, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, kafka.ConsumerSarama("test-admin", sarama.OffsetOldest))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		out[p] = b.Offset
	}
	return out
}

// endOffsets is the high-water mark of every partition of topic.
func endOffsets(t *testing.T, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafka.ConsumerSarama("test-offsets", sarama.OffsetOldest))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for _, p := range parts {
		if out[p], err = client.GetOffset(topic, p, sarama.OffsetNewest); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// readTopic reads n messages from topic's partitions, from the oldest.
func readTopic(t *testing.T, brokers []string, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, kafka.ConsumerSarama("test-read", sarama.OffsetOldest))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan *sarama.ConsumerMessage, n)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				default:
				}
			}
		}()
	}
	var out []*sarama.ConsumerMessage
	deadline := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case m := <-msgs:
			out = append(out, m)
		case <-deadline:
			t.Fatalf("read %d of %d messages from %s", len(out), n, topic)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}
