package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

// TestStartsWithoutItsDatabase: an api whose database does not answer
// starts anyway, says so once in its JSON log, answers /readyz 503 on its
// ops port, and keeps serving until stopped.
func TestStartsWithoutItsDatabase(t *testing.T) {
	cfg := testConfig(t, "http://127.0.0.1:1")
	dead, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Database = pgstore.Config{URL: "postgres://postgres@" + dead + "/none?sslmode=disable&connect_timeout=1"}
	if cfg.Addr, err = devstack.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	if cfg.OpsAddr, err = devstack.FreeAddr(); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, &logs) }()

	testenv.Eventually(t, 30*time.Second, func() error {
		if !strings.Contains(logs.String(), `"msg":"waiting for a dependency; not ready meanwhile"`) ||
			!strings.Contains(logs.String(), `"dependency":"database"`) {
			return errors.New("no JSON line about waiting for the database yet")
		}
		return nil
	})
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + cfg.OpsAddr + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz %s, want 503", resp.Status)
		}
		return nil
	})
	if n := strings.Count(logs.String(), "waiting for a dependency"); n != 1 {
		t.Errorf("%d lines about waiting, want 1 within a minute", n)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned without its database: %v", err)
	default:
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
