package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/logging"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/services/api/internal/config"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

// secretKey is recognisable, so a test can search for it (and for its
// tail) in every body and log line.
const (
	secretKey   = "sk_test_51LeakCanaryDoNotPrintMe0123ZyXwQ9vT"
	secretTail  = "ZyXwQ9vT"
	tokenSecret = "subscription-token-secret-for-tests"
	apiKey      = "key-one-Xq7RmT2vLp9sWd4K"
	apiKey2     = "key-two-Hn3JcF8bZk6YgQ1M"
	adminKey    = "admin-key-Pw4NcV7tRz2XbL9Q"
)

// stripeMockURL is stripe-mock over HTTP, one per test binary.
var stripeMockURL string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	addr, err := devstack.FreeAddr()
	var mock *devstack.Process
	if err == nil {
		mock, err = devstack.StartStripeMock(ctx, addr, io.Discard)
	}
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stripe-mock:", err)
		os.Exit(1)
	}
	stripeMockURL = "http://" + addr
	code := m.Run()
	_ = mock.Stop(5 * time.Second)
	os.Exit(code)
}

// testConfig is a valid config against stripeBase with a database of the test's own.
func testConfig(t *testing.T, stripeBase string) config.Config {
	t.Helper()
	return config.Config{
		Log:                     logging.Config{Level: "debug", Format: "json"},
		Database:                pgstore.Config{URL: testenv.Database(t)},
		StripeSecretKey:         secretKey,
		StripePublishableKey:    "pk_test_publishable",
		StripeCurrency:          "usd",
		StripeCurrencies:        []string{"usd", "eur"},
		StripeAPIBase:           stripeBase,
		StripeTimeout:           5 * time.Second,
		APIKeys:                 []string{apiKey, apiKey2},
		AdminAPIKeys:            []string{adminKey},
		EventsRequireToken:      true,
		SubscriptionTokenSecret: tokenSecret,
		SubscriptionTokenTTL:    time.Hour,
		ReadTimeout:             30 * time.Second,
		WriteTimeout:            time.Minute,
		IdleTimeout:             2 * time.Minute,
		MaxConnections:          100,
		ShutdownGrace:           time.Second,
	}
}

// api is the real handler served over loopback HTTP; reg is its metrics
// registry, which Ops serves.
type api struct {
	*httptest.Server
	logs *testenv.Buffer
	reg  *prometheus.Registry
}

func startAPI(t *testing.T, cfg config.Config) *api {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("test config: %v", err)
	}
	logs := &testenv.Buffer{}
	logger, err := logging.New(cfg.Log, "api", logs)
	if err != nil {
		t.Fatal(err)
	}
	reg := httpserver.NewRegistry()
	h, err := Handler(cfg, testenv.Pool(t, cfg.Database.URL), reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &api{Server: srv, logs: logs, reg: reg}
}

// reply is an HTTP answer read whole.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, r.Body)
	}
	return m
}

// apiError is the {"error": {...}} body.
func (r reply) apiError(t *testing.T) map[string]any {
	t.Helper()
	e, ok := r.json(t)["error"].(map[string]any)
	if !ok {
		t.Fatalf("no error object in %s", r.Body)
	}
	return e
}

func (a *api) do(t *testing.T, method, path, body string, header map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := a.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{Status: res.StatusCode, Header: res.Header, Body: b}
}

// withKey is the X-API-Key header of a valid key, withAdmin of an admin key.
var (
	withKey   = map[string]string{"X-API-Key": apiKey}
	withAdmin = map[string]string{"X-API-Key": adminKey}
)

// shapes are the URL shapes (docs/design.md, "HTTP routes") for a route below
// /Stripe, with the headers that authenticate each.
func shapes(route string) []struct {
	name   string
	path   string
	header map[string]string
} {
	return []struct {
		name   string
		path   string
		header map[string]string
	}{
		{"plain", "/Stripe/" + route, withKey},
		{"backendless service", "/api/services/Stripe/" + route, withKey},
		{"backendless app path", "/my-app-id/" + apiKey2 + "/services/Stripe/" + route, nil},
	}
}

// mintToken is the subscription token the api would hand out for id.
func mintToken(id string) string {
	return subtoken.Sign([]byte(tokenSecret), id, time.Now().Add(time.Hour))
}
