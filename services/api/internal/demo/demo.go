// Package demo is the api's demo checkout page (/demo, only with
// API_DEMO=true): a payer's side built on the JavaScript client
// (clients/js), to try the whole loop in a browser.
package demo

import (
	"bytes"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"github.com/stripeline/stripeline/clients/js"
)

// The page's files; the client library, stripeline.js, is clients/js's
// (served from package js, its one copy).
//
//go:embed assets
var assets embed.FS

// Config is what the page needs to know besides the api it is served by.
type Config struct {
	// NotifierURL is the notifier's websocket, as the browser reaches it.
	NotifierURL string
}

// Register serves the demo under /demo/ on mux.
func Register(mux *http.ServeMux, cfg Config) {
	files, _ := fs.Sub(assets, "assets") // the folder is embedded above
	static := http.StripPrefix("/demo/", http.FileServerFS(files))
	conf, _ := json.Marshal(map[string]string{"notifier_url": cfg.NotifierURL})
	mux.Handle("GET /demo", http.RedirectHandler("/demo/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /demo/config.json", func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(conf)
	})
	// One pattern per file: a /demo/ subtree would conflict with the
	// Backendless shape /{appID}/{apiKey}/services/….
	serve := func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		static.ServeHTTP(w, r)
	}
	mux.HandleFunc("GET /demo/{$}", serve)
	mux.HandleFunc("GET /demo/stripeline.js", func(w http.ResponseWriter, r *http.Request) {
		headers(w)
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		http.ServeContent(w, r, "stripeline.js", time.Time{}, bytes.NewReader(js.Client))
	})
	entries, _ := fs.ReadDir(files, ".")
	for _, e := range entries {
		if e.Name() != "index.html" { // FileServer redirects it to /demo/
			mux.HandleFunc("GET /demo/"+e.Name(), serve)
		}
	}
}

// headers keep the page to its own scripts, the api, the notifier's
// websocket and Stripe.js (loaded only when the payer asks for it).
func headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' https://js.stripe.com; "+
		"frame-src https://js.stripe.com https://hooks.stripe.com; connect-src 'self' ws: wss: https://api.stripe.com; "+
		"style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}
