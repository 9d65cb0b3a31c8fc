package ingest

import "net/http"

// Routes serves h at Path and BackendlessPath, and every other path with
// ops (/healthz, /readyz, /metrics). pkg/httpserver serves the result.
func Routes(h http.Handler, ops http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case Path, BackendlessPath:
			h.ServeHTTP(w, r)
		default:
			ops.ServeHTTP(w, r)
		}
	})
}
