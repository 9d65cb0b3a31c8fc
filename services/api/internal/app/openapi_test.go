package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	legacyrouter "github.com/getkin/kin-openapi/routers/legacy"

	"github.com/stripeline/stripeline/services/api/internal/httpapi"
)

// opsPatterns are the routes pkg/httpserver.Health adds to the api's public
// mux; /readyz and /metrics are on the ops port, which is not the API.
var opsPatterns = []string{"GET /healthz"}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(filepath.Join("..", "..", "..", "..", "docs", "openapi.yaml"))
	if err != nil {
		t.Fatalf("load docs/openapi.yaml: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("docs/openapi.yaml is not valid OpenAPI 3: %v", err)
	}
	return doc
}

// documented is every "METHOD /path" of the document, path parameters
// written {} so that names need not match the mux's.
func documented(t *testing.T, doc *openapi3.T) []string {
	t.Helper()
	var out []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			// The Backendless shapes copy operations by YAML merge keys: a
			// copy that lost its body or answers would still be "documented".
			if op.Responses.Status(200) == nil || (method == http.MethodPost && op.RequestBody == nil) {
				t.Errorf("docs/openapi.yaml: %s %s has no 200 answer or no request body", method, path)
			}
			out = append(out, method+" "+pathParam.ReplaceAllString(path, "{}"))
		}
	}
	sort.Strings(out)
	return out
}

// TestOpenAPIMatchesRoutes checks docs/openapi.yaml against the real mux:
// every documented operation is served (neither 404 nor 405), and every
// registered route is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	doc := loadOpenAPI(t)
	ops := documented(t, doc)
	if len(ops) < 5*3+1 {
		t.Fatalf("only %d operations documented: %v", len(ops), ops)
	}

	for _, p := range append(httpapi.Patterns(), opsPatterns...) {
		if key := pathParam.ReplaceAllString(p, "{}"); !slices.Contains(ops, key) {
			t.Errorf("route %q is registered but not in docs/openapi.yaml", p)
		}
	}

	a := startAPI(t, testConfig(t, stripeMockURL))
	probe := func(op string) int {
		method, path, _ := strings.Cut(op, " ")
		path = strings.Replace(path, "{}", "some-app", 1)
		path = strings.Replace(path, "{}", apiKey, 1)
		return a.do(t, method, path, "", withKey).Status
	}
	for _, op := range ops {
		if s := probe(op); s == http.StatusNotFound || s == http.StatusMethodNotAllowed {
			t.Errorf("%s is documented but the api answers %d", op, s)
		}
	}
	// The probe can tell: what is not served answers 404 or 405.
	for _, op := range []string{"GET /Stripe/nothing", "DELETE /Stripe/charge", "GET /{}/{}/services/Stripe/refunds"} {
		if s := probe(op); s != http.StatusNotFound && s != http.StatusMethodNotAllowed {
			t.Fatalf("probe of %s answered %d; it cannot tell served from unserved", op, s)
		}
	}
}

// TestAnswersMatchOpenAPI sends real requests (stripe-mock, Postgres) and
// validates each answer against the document's schema for it.
func TestAnswersMatchOpenAPI(t *testing.T) {
	doc := loadOpenAPI(t)
	cfg := testConfig(t, stripeMockURL)
	storeEvents(t, cfg.Database.URL, storedEvent("evt_oa", "charge.succeeded", "ch_oa", time.Now()),
		stateEvent(t, "evt_oa_pi", "payment_intent.succeeded", "payment_intent", "pi_oa", "succeeded", time.Now(), ""))
	a := startAPI(t, cfg)
	doc.Servers = openapi3.Servers{{URL: a.URL}}
	router, err := legacyrouter.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path, body string
		header             map[string]string
		status             int
	}{
		{"POST", "/Stripe/charge", `{"token":"tok_visa","amount":2000}`, withKey, 200},
		{"POST", "/api/services/Stripe/payment-intents", `{"amount":2000}`, withKey, 200},
		{"GET", "/x/" + apiKey + "/services/Stripe/config", "", nil, 200},
		{"GET", "/Stripe/events?id=ch_oa&token=" + mintToken("ch_oa"), "", withKey, 200},
		{"POST", "/Stripe/charge", `{"token":"tok_visa","amount":2.5}`, withKey, 400},
		{"POST", "/Stripe/payment-intents", `{"amount":1}`, nil, 401},
		{"GET", "/Stripe/events?id=ch_oa", "", withKey, 401},
		{"POST", "/Stripe/subscription-tokens", `{"id":"ch_oa","token":"` + mintToken("ch_oa") + `"}`, withKey, 200},
		{"POST", "/api/services/Stripe/subscription-tokens", `{"id":"ch_oa","token":"` + mintToken("ch_other") + `"}`, withKey, 403},
		{"POST", "/Stripe/charge", `{"token":"tok_visa","amount":2000,"capture":false}`, withKey, 200},
		{"GET", "/Stripe/transactions/pi_oa?token=" + mintToken("pi_oa"), "", withKey, 200},
		{"POST", "/Stripe/payment-intents", `{"amount":2000,"payment_method":"pm_card_visa","confirm":true,"return_url":"https://shop.example/back"}`, withKey, 200},
		{"POST", "/Stripe/payment-intents/pi_oa/confirm?token=" + mintToken("pi_oa"), `{"payment_method":"pm_card_visa"}`, withKey, 200},
		{"POST", "/x/" + apiKey + "/services/Stripe/payment-intents/pi_oa/confirm", `{"payment_method":"pm_card_visa"}`, nil, 401},
		{"GET", "/x/" + apiKey + "/services/Stripe/transactions/pi_oa?token=" + mintToken("pi_oa"), "", nil, 200},
		{"GET", "/Stripe/transactions/pi_none?token=" + mintToken("pi_none"), "", withKey, 404},
		{"POST", "/Stripe/refunds", `{"charge":"ch_oa","amount":500,"reason":"duplicate"}`, withAdmin, 200},
		{"POST", "/Stripe/refunds", `{"charge":"ch_oa"}`, withKey, 403},
		{"POST", "/Stripe/refunds", `{"amount":500}`, withAdmin, 400},
		{"POST", "/Stripe/charges/ch_oa/capture", `{"amount":500}`, withAdmin, 200},
		{"POST", "/Stripe/charges/ch_oa/cancel", ``, withAdmin, 200},
		{"POST", "/Stripe/payment-intents/pi_oa/capture", ``, withAdmin, 200},
		{"POST", "/Stripe/payment-intents/pi_oa/cancel", `{"reason":"abandoned"}`, withAdmin, 200},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := a.do(t, c.method, c.path, c.body, c.header)
			if r.Status != c.status {
				t.Fatalf("status %d, want %d: %s", r.Status, c.status, r.Body)
			}
			req := httptest.NewRequest(c.method, a.URL+c.path, strings.NewReader(c.body))
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			route, params, err := router.FindRoute(req)
			if err != nil {
				t.Fatalf("no documented route: %v", err)
			}
			in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
			err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
				RequestValidationInput: in, Status: r.Status, Header: r.Header, Body: io.NopCloser(bytes.NewReader(r.Body)),
			})
			if err != nil {
				t.Fatalf("answer does not match docs/openapi.yaml: %v\n%s", err, r.Body)
			}
		})
	}
}
