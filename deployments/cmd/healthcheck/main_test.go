package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()

	if err := check(srv.URL+"/readyz", 5*time.Second); err != nil {
		t.Errorf("ready endpoint: got %v, want nil", err)
	}
	if err := check(srv.URL+"/other", 5*time.Second); err == nil {
		t.Error("503 endpoint: got nil, want an error")
	}
	srv.Close()
	if err := check(srv.URL+"/readyz", 5*time.Second); err == nil {
		t.Error("closed server: got nil, want an error")
	}
}
