package app

import (
	"net/http"
	"strings"
	"testing"
)

// TestDemoOnlyWithAPIDemo: /demo is not served unless API_DEMO=true; with
// it, the page, its script, the client library and its settings are.
func TestDemoOnlyWithAPIDemo(t *testing.T) {
	off := startAPI(t, testConfig(t, stripeMockURL))
	for _, path := range []string{"/demo", "/demo/", "/demo/stripeline.js", "/demo/config.json"} {
		if r := off.do(t, http.MethodGet, path, "", nil); r.Status != http.StatusNotFound {
			t.Errorf("without API_DEMO: GET %s = %d, want 404", path, r.Status)
		}
	}

	cfg := testConfig(t, stripeMockURL)
	cfg.Demo = true
	cfg.DemoNotifierURL = "ws://127.0.0.1:18082/ws"
	on := startAPI(t, cfg)
	page := on.do(t, http.MethodGet, "/demo/", "", nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), `src="demo.js"`) ||
		!strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /demo/ = %d %s\n%s", page.Status, page.Header.Get("Content-Type"), page.Body)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET /demo/: Content-Security-Policy %q", csp)
	}
	for path, want := range map[string]string{
		"/demo/demo.js":       "from './stripeline.js'",
		"/demo/stripeline.js": "export class Stripeline",
	} {
		r := on.do(t, http.MethodGet, path, "", nil)
		if r.Status != http.StatusOK || !strings.Contains(string(r.Body), want) || !strings.Contains(r.Header.Get("Content-Type"), "javascript") {
			t.Errorf("GET %s = %d %s, want a script with %q", path, r.Status, r.Header.Get("Content-Type"), want)
		}
	}
	if c := on.do(t, http.MethodGet, "/demo/config.json", "", nil).json(t); c["notifier_url"] != cfg.DemoNotifierURL {
		t.Errorf("config.json = %v", c)
	}
	if r := on.do(t, http.MethodGet, "/demo", "", nil); r.Status != http.StatusOK {
		// The client follows the redirect to /demo/.
		t.Errorf("GET /demo = %d", r.Status)
	}
	// The api's own routes are unchanged.
	if r := on.do(t, http.MethodGet, "/Stripe/config", "", nil); r.Status != http.StatusOK {
		t.Errorf("GET /Stripe/config = %d", r.Status)
	}
}
