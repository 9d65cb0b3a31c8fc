// Package ewtest holds what event-writer's integration tests share: a
// producer, and checks of the table and of the group's offsets.
package ewtest

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// Producer publishes sample events to brokers until the test ends.
func Producer(t *testing.T, brokers []string) *loadgen.Producer {
	t.Helper()
	p, err := loadgen.NewProducer(brokers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// StoredIDs is every event_id in the table, sorted.
func StoredIDs(t *testing.T, pool *pgxpool.Pool) []string {
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

// SameIDs compares the table with the distinct ids of the events published.
func SameIDs(t *testing.T, pool *pgxpool.Pool, events []loadgen.Event) error {
	want := map[string]bool{}
	for _, e := range events {
		want[e.ID] = true
	}
	got := StoredIDs(t, pool)
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

// Committed is the group's committed offset per partition of topic (-1: none).
func Committed(t *testing.T, brokers []string, group, topic string) map[int32]int64 {
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

// ReadTopic reads n messages from topic's partitions, from the oldest.
func ReadTopic(t *testing.T, brokers []string, topic string, n int) []*sarama.ConsumerMessage {
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

// Header is the value of a message's header key.
func Header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

// Metric reads an unlabelled metric from the /metrics of the service at addr.
func Metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s not in /metrics of %s", name, addr)
}
