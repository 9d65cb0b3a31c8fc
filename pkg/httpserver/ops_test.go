package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/tools/testenv"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// /readyz names the failed checks and nothing of their errors, which go to
// the log once per change.
func TestReadyzNamesFailedChecksAndLogsTheirErrors(t *testing.T) {
	var dbDown atomic.Bool
	dbDown.Store(true)
	const secretish = "dial tcp 10.1.2.3:5432: user stripeline_rw database payments: connection refused"
	logs := &testenv.Buffer{}
	srv := httptest.NewServer(OpsHandler(map[string]Check{
		"kafka": func(context.Context) error { return nil },
		"database": func(context.Context) error {
			if dbDown.Load() {
				return errors.New(secretish)
			}
			return nil
		},
	}, nil, slog.New(slog.NewTextHandler(logs, nil))))
	defer srv.Close()

	if code, _ := get(t, srv.URL+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz = %d, want 200 whatever the dependencies", code)
	}
	for range 5 {
		code, body := get(t, srv.URL+"/readyz")
		var got struct {
			Status string
			Failed []string
		}
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("/readyz body %q: %v", body, err)
		}
		if code != http.StatusServiceUnavailable || got.Status != "not ready" || len(got.Failed) != 1 || got.Failed[0] != "database" {
			t.Fatalf("/readyz = %d %s, want 503 naming only the database", code, body)
		}
		for _, leak := range []string{"10.1.2.3", "stripeline_rw", "payments", "refused"} {
			if strings.Contains(body, leak) {
				t.Fatalf("/readyz answers %q: it leaks %q of the check's error", body, leak)
			}
		}
	}
	if n := strings.Count(logs.String(), "readiness check fails"); n != 1 {
		t.Fatalf("5 failing probes logged %d times, want once:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "stripeline_rw") {
		t.Fatalf("the log lacks the check's error:\n%s", logs)
	}
	dbDown.Store(false)
	if code, body := get(t, srv.URL+"/readyz"); code != http.StatusOK || !strings.Contains(body, `"ready"`) {
		t.Fatalf("/readyz = %d %s once every check passes, want 200 ready", code, body)
	}
	if !strings.Contains(logs.String(), "readiness check passes again") {
		t.Fatalf("the recovery is not logged:\n%s", logs)
	}
	if code, _ := get(t, srv.URL+"/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
}

// /metrics serves the registry it is given, and only it: two handlers on
// two registries export their own values.
func TestMetricsServesTheGivenRegistry(t *testing.T) {
	var bodies []string
	for i, v := range []float64{3, 7} {
		reg := NewRegistry()
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: "ops_test_total", Help: "A test counter."})
		reg.MustRegister(c)
		c.Add(v)
		srv := httptest.NewServer(OpsHandler(nil, reg, nil))
		code, body := get(t, srv.URL+"/metrics")
		srv.Close()
		if code != http.StatusOK {
			t.Fatalf("registry %d: /metrics = %d", i, code)
		}
		if !strings.Contains(body, "go_goroutines") || !strings.Contains(body, "process_") {
			t.Errorf("registry %d: /metrics lacks the Go or process collector", i)
		}
		bodies = append(bodies, body)
	}
	if !strings.Contains(bodies[0], "ops_test_total 3\n") || !strings.Contains(bodies[1], "ops_test_total 7\n") {
		t.Fatalf("each handler should export its own registry's value:\n%s\n---\n%s", bodies[0], bodies[1])
	}
	// The default registry is not served.
	prometheus.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "ops_test_default_total", Help: "On the default registry."}))
	srv := httptest.NewServer(OpsHandler(nil, NewRegistry(), nil))
	defer srv.Close()
	if _, body := get(t, srv.URL+"/metrics"); strings.Contains(body, "ops_test_default_total") {
		t.Fatal("/metrics serves the default registry")
	}
}

// The public port's Health answers a bare /healthz and nothing of ops.
func TestHealthIsBare(t *testing.T) {
	mux := http.NewServeMux()
	Health(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if code, body := get(t, srv.URL+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != `{"status":"ok"}` {
		t.Fatalf("/healthz = %d %q", code, body)
	}
	for _, p := range []string{"/readyz", "/metrics"} {
		if code, _ := get(t, srv.URL+p); code != http.StatusNotFound {
			t.Errorf("%s on the public mux = %d, want 404", p, code)
		}
	}
}

// ServeWithOps serves both listeners and stops both when the context ends.
func TestServeWithOps(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opsAddr := opsLn.Addr().String()
	opsLn.Close()
	pub := http.NewServeMux()
	Health(pub)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ServeWithOps(ctx, ln, pub, DefaultLimits(), opsAddr, OpsHandler(nil, nil, nil), time.Second, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("ops /readyz = %d with no checks", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := get(t, "http://"+ln.Addr().String()+"/readyz"); code != http.StatusNotFound {
		t.Fatalf("public /readyz = %d, want 404", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("ServeWithOps: %v", err)
	}
	for _, a := range []string{ln.Addr().String(), opsAddr} {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts after shutdown", a)
		}
	}
}

// Polled runs the check in the background: asking it does not run it.
func TestPolled(t *testing.T) {
	var runs atomic.Int32
	var fail atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := Polled(ctx, 50*time.Millisecond, time.Second, func(context.Context) error {
		runs.Add(1)
		if fail.Load() {
			return errors.New("down")
		}
		return nil
	})
	wait := func(want bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for (c(context.Background()) == nil) != want {
			if time.Now().After(deadline) {
				t.Fatalf("Polled check never became ok=%v", want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wait(true)
	before := runs.Load()
	for range 100 {
		_ = c(context.Background())
	}
	if after := runs.Load(); after-before > 2 {
		t.Fatalf("100 asks ran the check %d times", after-before)
	}
	fail.Store(true)
	wait(false)
	fail.Store(false)
	wait(true)
}

// /metrics exports readiness as /readyz judges it, at each scrape: the
// whole and each check.
func TestMetricsExportReadiness(t *testing.T) {
	var dbDown atomic.Bool
	srv := httptest.NewServer(OpsHandler(map[string]Check{
		"database": func(context.Context) error {
			if dbDown.Load() {
				return errors.New("refused")
			}
			return nil
		},
		"kafka": func(context.Context) error { return nil },
	}, NewRegistry(), nil))
	defer srv.Close()
	for _, c := range []struct {
		down bool
		want []string
	}{
		{false, []string{"stripeline_ready 1\n", `stripeline_ready_check{check="database"} 1`, `stripeline_ready_check{check="kafka"} 1`}},
		{true, []string{"stripeline_ready 0\n", `stripeline_ready_check{check="database"} 0`, `stripeline_ready_check{check="kafka"} 1`}},
	} {
		dbDown.Store(c.down)
		_, body := get(t, srv.URL+"/metrics")
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("database down %v: /metrics lacks %q", c.down, w)
			}
		}
	}
}
