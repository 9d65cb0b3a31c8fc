package httpapi

import (
	"net/http"
	"slices"
	"strings"
)

// corsHeaders are the request headers a browser client may send.
const corsHeaders = "Content-Type, X-API-Key, Idempotency-Key, X-Subscription-Token"

// CORS lets browsers on the given origins call next ("*" allows any origin).
// With no origins it returns next unchanged: browsers then refuse
// cross-origin calls, as they do for any server that says nothing.
// Preflight requests are answered here, before routing.
func CORS(origins []string, next http.Handler) http.Handler {
	var allowed []string
	for _, o := range origins {
		if o = strings.TrimRight(strings.TrimSpace(o), "/"); o != "" {
			allowed = append(allowed, o)
		}
	}
	if len(allowed) == 0 {
		return next
	}
	anyOrigin := slices.Contains(allowed, "*")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Add("Vary", "Origin")
		ok := anyOrigin || slices.Contains(allowed, origin)
		preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Retry-After")
		}
		if !preflight {
			next.ServeHTTP(w, r)
			return
		}
		if !ok {
			writeJSON(w, http.StatusForbidden, map[string]errorBody{"error": {
				Type: "invalid_request", Code: "origin_not_allowed", Message: "this origin may not call the api (API_CORS_ORIGINS)"}})
			return
		}
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		h.Set("Access-Control-Allow-Headers", corsHeaders)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}
