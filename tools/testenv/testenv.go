// Package testenv gives integration tests the real parts they run against,
// isolated per test: a database of their own (cloned from a migrated
// template), a topic of their own on a broker shared by the test binary.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/devstack"

	"bytes"
)

// ServerURL is the PostgreSQL server tests use; STRIPELINE_TEST_POSTGRES overrides it.
func ServerURL() string {
	if u := os.Getenv("STRIPELINE_TEST_POSTGRES"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// DatabaseURL returns the URL of database name on the test server.
func DatabaseURL(name string) string {
	cfg, err := pgx.ParseConfig(ServerURL())
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name)
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
)

// migratedTemplate creates, once per test binary, a database with every
// migration applied; tests clone it, which is much faster than migrating.
func migratedTemplate(ctx context.Context) (string, error) {
	templateOnce.Do(func() {
		// Named by the migrations' content: test binaries share it across runs,
		// and a changed migration makes a new one.
		templateName = "stripeline_tpl_" + pgstore.MigrationsHash()[:12]
		url := DatabaseURL(templateName)
		if templateErr = pgstore.EnsureDatabase(ctx, url); templateErr != nil {
			return
		}
		var pool *pgxpool.Pool
		if pool, templateErr = pgxpool.New(ctx, url); templateErr != nil {
			return
		}
		_, templateErr = pgstore.Migrate(ctx, pool)
		pool.Close()
	})
	return templateName, templateErr
}

// Database creates a migrated database for this test, dropped when it ends,
// and returns its URL.
func Database(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tpl, err := migratedTemplate(ctx)
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	name := "stripeline_t_" + devstack.RandomHex(6)
	conn := serverConn(ctx, t)
	defer conn.Close(ctx)
	create := fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", pgx.Identifier{name}.Sanitize(), pgx.Identifier{tpl}.Sanitize())
	for {
		_, err := conn.Exec(ctx, create)
		var pgErr *pgconn.PgError
		// 55006: another test binary is connected to the template right now.
		if errors.As(err, &pgErr) && pgErr.Code == "55006" && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatalf("create test database: %v", err)
		}
		break
	}
	t.Cleanup(func() { DropDatabase(name) })
	return DatabaseURL(name)
}

// EmptyDatabase creates a database with no tables, dropped when the test ends.
func EmptyDatabase(t testing.TB) string {
	t.Helper()
	name := "stripeline_t_" + devstack.RandomHex(6)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := pgstore.EnsureDatabase(ctx, DatabaseURL(name)); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { DropDatabase(name) })
	return DatabaseURL(name)
}

// DropDatabase drops a database of the test server, disconnecting its sessions.
func DropDatabase(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = pgstore.DropDatabase(ctx, DatabaseURL(name))
}

func serverConn(ctx context.Context, t testing.TB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		t.Fatalf("connect to the test PostgreSQL at %s: %v (is it running? make postgres)", ServerURL(), err)
	}
	return conn
}

// Pool is a pool on url, closed when the test ends.
func Pool(t testing.TB, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

var (
	brokerOnce sync.Once
	broker     *devstack.Broker
	brokerErr  error
)

// Broker is a Kafka-protocol broker on loopback TCP, shared by every test of
// the binary; isolate tests with Topic and group names of their own.
// Topics are created on first use with 4 partitions.
func Broker(t testing.TB) string {
	t.Helper()
	brokerOnce.Do(func() {
		broker, brokerErr = devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", Partitions: 4})
	})
	if brokerErr != nil {
		t.Fatalf("start broker: %v", brokerErr)
	}
	return broker.Addr()
}

// Topic is a topic name of this test's own.
func Topic(t testing.TB) string {
	name := strings.NewReplacer("/", ".", " ", "_").Replace(t.Name())
	if len(name) > 80 {
		name = name[:80]
	}
	return "test." + name + "." + devstack.RandomHex(3)
}

// TopicMessages is every message on topic now, read within a minute.
func TopicMessages(t testing.TB, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	msgs, err := kafka.ReadTopic(ctx, brokers, topic)
	if err != nil {
		t.Fatal(err)
	}
	return msgs
}

// EndOffsets is the high-water mark of every partition of topic: its keys
// are the topic's partitions.
func EndOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
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

// Eventually polls cond every 20 ms until it returns nil or d passes; then it
// fails the test with cond's last error.
func Eventually(t testing.TB, d time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s: %v", d, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Buffer is a bytes.Buffer that goroutines may write and read at once: a
// logger's output that a test reads while the code under test writes.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
