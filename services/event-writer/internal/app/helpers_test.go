package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/services/event-writer/internal/config"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
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
		Transactions:  3,
		RetryMin:      50 * time.Millisecond,
		RetryMax:      500 * time.Millisecond,
		ShutdownGrace: 5 * time.Second,
	}
}

// logWriter is where a writer run by a test logs: stderr with -v.
func logWriter(t *testing.T) io.Writer {
	if testing.Verbose() {
		return os.Stderr
	}
	return io.Discard
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
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- Run(ctx, cfg, logWriter(t)) }()
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

// notReady is nil when the ops listener answers /readyz with 503.
func notReady(cfg config.Config) error {
	resp, err := http.Get("http://" + cfg.Addr + "/readyz")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("/readyz: %s, want 503", resp.Status)
	}
	return nil
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
