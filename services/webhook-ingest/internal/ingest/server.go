package ingest

import "net/http"

// Routes serves h at Path and BackendlessPath, and every other path with
// rest: the service's public port gives it a mux of a bare /healthz
// (pkg/httpserver.Health); /readyz and /metrics are on the ops listener.
// pkg/httpserver serves the result.
func Routes(h http.Handler, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case Path, BackendlessPath:
			h.ServeHTTP(w, r)
		default:
			rest.ServeHTTP(w, r)
		}
	})
}
