package app

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stripeline/stripeline/tools/testenv"
)

// The public port answers a bare /healthz and no ops route; the ops
// handler answers /readyz and /metrics.
func TestOpsRoutesAreOffThePublicPort(t *testing.T) {
	cfg := testConfig(t, stripeMockURL)
	a := startAPI(t, cfg)
	if r := a.do(t, "GET", "/healthz", "", nil); r.Status != 200 || strings.TrimSpace(string(r.Body)) != `{"status":"ok"}` {
		t.Fatalf("public /healthz = %d %s", r.Status, r.Body)
	}
	for _, p := range []string{"/readyz", "/metrics"} {
		if r := a.do(t, "GET", p, "", withKey); r.Status != http.StatusNotFound {
			t.Errorf("public %s = %d, want 404", p, r.Status)
		}
	}
	ops := httptest.NewServer(Ops(testenv.Pool(t, cfg.Database.URL), a.reg, nil))
	defer ops.Close()
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(ops.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("ops %s = %d, want 200", p, resp.StatusCode)
		}
	}
}
