package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/devproxy"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/workspace"
)

// settingRow is a row of the settings table (docs/settings.md; deploytest
// checks it lists every setting a service reads).
var settingRow = regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\|")

// TestRunHonoursEverySetting: whatever make run chooses (addresses,
// secrets, the demo, the origins the notifier allows, the topic), a
// setting in its environment reaches the services as the user set it.
func TestRunHonoursEverySetting(t *testing.T) {
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "docs", "settings.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range settingRow.FindAllStringSubmatch(string(readme), -1) {
		names = append(names, m[1])
	}
	if len(names) < 50 {
		t.Fatalf("found %d settings in docs/settings.md; the table was not found", len(names))
	}
	for _, n := range names {
		t.Setenv(n, "user-"+n)
	}
	stack := &devstack.Stack{Config: runConfig(t.TempDir())}
	for _, svc := range devstack.Services {
		got := lastValues(append(os.Environ(), devstack.OnlyItsSecrets(svc, stack.Env())...))
		for _, n := range names {
			if got[n] != "user-"+n {
				t.Errorf("%s gets %s=%q, the user set %q", svc, n, got[n], "user-"+n)
			}
		}
	}
}

// TestRunChoosesTheLocalLoop: with nothing set, the demo is on, the
// notifier lets the demo's page in, and the development proxy is in front
// of stripe-mock.
func TestRunChoosesTheLocalLoop(t *testing.T) {
	for _, n := range []string{"API_DEMO", "API_DEMO_NOTIFIER_URL", "NOTIFIER_ALLOWED_ORIGINS", "STRIPE_API_BASE", "API_ADDR", "NOTIFIER_ADDR", "KAFKA_TOPIC"} {
		t.Setenv(n, "")
	}
	cfg := runConfig(t.TempDir())
	got := lastValues((&devstack.Stack{Config: cfg}).Env())
	for name, want := range map[string]string{
		"API_DEMO":                 "true",
		"API_DEMO_NOTIFIER_URL":    "ws://127.0.0.1:8082/ws",
		"NOTIFIER_ALLOWED_ORIGINS": "http://127.0.0.1:8080,http://localhost:8080",
	} {
		if got[name] != want {
			t.Errorf("%s=%q, want %q", name, got[name], want)
		}
	}
	if !cfg.DevProxy || cfg.StripeMockAddr != "127.0.0.1:12111" {
		t.Errorf("DevProxy %v at %q, want the proxy at 127.0.0.1:12111", cfg.DevProxy, cfg.StripeMockAddr)
	}
	t.Setenv("STRIPE_API_BASE", "https://api.stripe.com")
	if runConfig(t.TempDir()).DevProxy {
		t.Error("with STRIPE_API_BASE set the development proxy is still on")
	}
}

// lastValues is what a process with env sees: the last value of each name.
func lastValues(env []string) map[string]string {
	out := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// TestTrigger sends an event by hand through a real proxy in front of a
// real stripe-mock; the receiver stands in for webhook-ingest.
func TestTrigger(t *testing.T) {
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mock, err := devstack.StartStripeMock(ctx, addr, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mock.Stop(5 * time.Second) })
	var (
		mu     sync.Mutex
		events []map[string]any
	)
	ingest := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev map[string]any
		_ = json.NewDecoder(r.Body).Decode(&ev)
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}))
	defer ingest.Close()
	p, err := devproxy.New(devproxy.Config{Upstream: "http://" + addr, WebhookURL: ingest.URL, WebhookSecret: "whsec_trigger_test_0123"})
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(p)
	defer func() { proxy.Close(); p.Close() }()

	var out bytes.Buffer
	proxyAddr := strings.TrimPrefix(proxy.URL, "http://")
	if err := trigger(ctx, []string{"charge.refunded", "--id", "ch_byhand", "--proxy", proxyAddr}, strings.NewReader(""), &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "charge.refunded evt_") {
		t.Errorf("output %q", out.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no event reached webhook-ingest")
		}
		time.Sleep(10 * time.Millisecond)
	}
	ev := events[0]
	if obj := ev["data"].(map[string]any)["object"].(map[string]any); ev["type"] != "charge.refunded" || obj["id"] != "ch_byhand" || obj["refunded"] != true {
		t.Errorf("event %v", ev)
	}
	// Flags first and the id from an answer on stdin; a refusal passed on;
	// no id; no proxy at all.
	if err := trigger(ctx, []string{"--proxy", proxyAddr, "charge.refunded"}, strings.NewReader(`{"id":"pi_x","object":"payment_intent"}`), io.Discard); err == nil || !strings.Contains(err.Error(), "is about a charge") {
		t.Errorf("charge event about a PaymentIntent: %v", err)
	}
	if err := trigger(ctx, []string{"charge.refunded"}, strings.NewReader(""), io.Discard); err == nil {
		t.Error("no --id and nothing on stdin: no error")
	}
	if err := trigger(ctx, []string{"charge.refunded", "--id", "ch_1", "--proxy", "127.0.0.1:1"}, strings.NewReader(""), io.Discard); err == nil || !strings.Contains(err.Error(), "is make run running") {
		t.Errorf("no proxy: %v", err)
	}
}
