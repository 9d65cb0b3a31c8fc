package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/config"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/testenv"
)

// TestRunServesWebhooksAndMetrics starts the service as main does and checks
// the wiring: a signed event at the Backendless path is accepted, and the
// outcome counters and the latency histogram are on the ops port's /metrics,
// and the public port serves neither /metrics nor /readyz.
// webhookSecret is the endpoint's signing secret in these tests.
const webhookSecret = "whsec_apptest0123456789abcdefghijklmnop"

func TestRunServesWebhooksAndMetrics(t *testing.T) {
	addr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	opsAddr, err := devstack.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{
		Addr:           addr,
		OpsAddr:        opsAddr,
		Log:            logging.Config{Level: "info", Format: "json"},
		Kafka:          kafka.Config{Brokers: []string{testenv.Broker(t)}, Topic: testenv.Topic(t)},
		WebhookSecrets: []string{webhookSecret},
		Tolerance:      300 * time.Second,
		MaxBody:        1 << 20,
		PublishTimeout: 5 * time.Second,
		ReadTimeout:    10 * time.Second,
		WriteTimeout:   10 * time.Second,
		IdleTimeout:    2 * time.Minute,
		MaxConnections: 100,
		ShutdownGrace:  5 * time.Second,

		KafkaMaxMessageBytes: 1000012,
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs bytes.Buffer
	go func() { done <- Run(ctx, cfg, &logs) }() // slog serializes its writes
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	base, ops := "http://"+addr, "http://"+opsAddr
	testenv.Eventually(t, 30*time.Second, func() error {
		resp, err := http.Get(ops + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	})

	shape, _ := loadgen.ShapeNamed("invoice.paid")
	body := shape.Body
	req, _ := http.NewRequest(http.MethodPost, base+"/api/services/Stripe/webhooks/handler", bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), webhookSecret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" ||
		string(answer) != `{"received":true,"event_id":"evt_1OPqLdJN5vQBdWExoW3sTq7K"}`+"\n" {
		t.Fatalf("signed event: %d %s %s, want 200 with the event id", resp.StatusCode, resp.Header.Get("Content-Type"), answer)
	}
	resp, err = http.Post(base+"/webhooks/stripe", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("unsigned event: %d, want 400", resp.StatusCode)
	}

	for _, p := range []string{"/readyz", "/metrics"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404 (it is on the ops port)", p, resp.StatusCode)
		}
	}
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("public /healthz: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	resp, err = http.Get(ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`stripeline_webhook_requests_total{outcome="accepted"} 1`,
		`stripeline_webhook_requests_total{outcome="missing_signature"} 1`,
		`stripeline_webhook_requests_total{outcome="broker_timeout"} 0`,
		`stripeline_webhook_request_duration_seconds_count{outcome="accepted"} 1`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The refusal is logged with its reason; no secret, no body.
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	out := logs.String()
	if !strings.Contains(out, `"reason":"missing_signature"`) {
		t.Errorf("no log line with the refusal's reason in:\n%s", out)
	}
	if strings.Contains(out, webhookSecret) || strings.Contains(out, "in_1OPqLaJN5vQBdWExc3Gk2Vt9") {
		t.Errorf("the log holds a secret or the body:\n%s", out)
	}
}

// Started without a broker, ingest serves: it answers webhooks 503 and
// /readyz not ready, and once a broker comes at the configured address it
// takes webhooks without a restart.
func TestRunStartsWithoutABroker(t *testing.T) {
	var addrs [3]string
	for i := range addrs {
		a, err := devstack.FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a
	}
	addr, opsAddr, brokerAddr := addrs[0], addrs[1], addrs[2]
	cfg := config.Config{
		Addr: addr, OpsAddr: opsAddr,
		Log:            logging.Config{Level: "info", Format: "json"},
		Kafka:          kafka.Config{Brokers: []string{brokerAddr}, Topic: "ingest.nobroker"},
		WebhookSecrets: []string{webhookSecret}, Tolerance: 300 * time.Second, MaxBody: 1 << 20,
		PublishTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxConnections: 100, ShutdownGrace: 5 * time.Second,
		KafkaMaxMessageBytes: 1000012,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testenv.Buffer
	go func() { done <- Run(ctx, cfg, &logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	body := []byte(`{"id":"evt_nobroker","object":"event","type":"charge.succeeded","created":1,"data":{"object":{"id":"ch_nobroker","object":"charge"}}}`)
	post := func() (int, error) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/stripe", bytes.NewReader(body))
		req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), webhookSecret))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	readyz := func() (int, error) {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	testenv.Eventually(t, 10*time.Second, func() error {
		if s, err := readyz(); err != nil || s != http.StatusServiceUnavailable {
			return fmt.Errorf("readyz %d (%v), want 503 while no broker answers", s, err)
		}
		if s, err := post(); err != nil || s != http.StatusServiceUnavailable {
			return fmt.Errorf("webhook %d (%v), want 503 while no broker answers", s, err)
		}
		if !strings.Contains(logs.String(), "waiting for a dependency") {
			return errors.New("no 'waiting for kafka' line yet")
		}
		return nil
	})
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: brokerAddr})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testenv.Eventually(t, 30*time.Second, func() error {
		if s, err := post(); err != nil || s != http.StatusOK {
			return fmt.Errorf("webhook %d (%v), want 200 once the broker is up", s, err)
		}
		return nil
	})
	if n := strings.Count(logs.String(), "waiting for a dependency"); n != 1 {
		t.Errorf("%d 'waiting for kafka' lines, want 1", n)
	}
}
