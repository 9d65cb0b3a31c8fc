package app

import (
	"net/http"
	"strings"
	"testing"
)

func TestCORS(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	cfg.CORSOrigins = []string{"https://shop.example"}
	a := startAPI(t, cfg)

	pre := a.do(t, http.MethodOptions, "/Stripe/charge", "", map[string]string{
		"Origin": "https://shop.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type,x-api-key"})
	if pre.Status != http.StatusNoContent || pre.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "X-API-Key") ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") {
		t.Fatalf("preflight from an allowed origin: status %d, headers %v", pre.Status, pre.Header)
	}
	if r := a.do(t, http.MethodOptions, "/Stripe/charge", "", map[string]string{
		"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}); r.Status != http.StatusForbidden || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: status %d, headers %v", r.Status, r.Header)
	}
	r := a.do(t, http.MethodGet, "/Stripe/config", "", map[string]string{"Origin": "https://shop.example"})
	if r.Status != http.StatusOK || r.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" || !strings.Contains(r.Header.Get("Vary"), "Origin") {
		t.Fatalf("GET from an allowed origin: status %d, headers %v", r.Status, r.Header)
	}
	// A refused call still says which origin may read it, so the browser shows the 401.
	if r := a.do(t, http.MethodPost, "/Stripe/charge", `{}`, map[string]string{"Origin": "https://shop.example"}); r.Status != http.StatusUnauthorized || r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Fatalf("unauthenticated POST from an allowed origin: status %d, headers %v", r.Status, r.Header)
	}

	off := startAPI(t, testConfig(t, stripeMockURL))
	if r := off.do(t, http.MethodGet, "/Stripe/config", "", map[string]string{"Origin": "https://shop.example"}); r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("CORS header without API_CORS_ORIGINS: %v", r.Header)
	}

	anyCfg := testConfig(t, stripeMockURL)
	anyCfg.CORSOrigins = []string{"*"}
	anyOrigin := startAPI(t, anyCfg)
	if r := anyOrigin.do(t, http.MethodGet, "/Stripe/config", "", map[string]string{"Origin": "https://any.example"}); r.Header.Get("Access-Control-Allow-Origin") != "https://any.example" {
		t.Fatalf("API_CORS_ORIGINS=* did not allow an origin: %v", r.Header)
	}
}
