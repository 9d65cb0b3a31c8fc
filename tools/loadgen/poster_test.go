package loadgen

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// The poster keeps one connection per sender, reads chunked and
// Content-Length answers, sends the header lines and the body as given,
// and dials again when the server closes.
func TestPosterKeepsConnectionsAndReadsAnswers(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != http.MethodPost || r.URL.Path != "/hook" || r.URL.RawQuery != "a=1" || r.Header.Get("X-Test") != "yes" || string(body) != "body-"+r.Header.Get("X-N"):
			w.WriteHeader(http.StatusBadRequest)
		case r.Header.Get("X-N") == "7":
			w.Header().Set("Connection", "close")
			w.WriteHeader(http.StatusAccepted)
		case r.Header.Get("X-N") == "8":
			w.WriteHeader(http.StatusTeapot)
			w.(http.Flusher).Flush() // chunked: the length is not known yet
			io.WriteString(w, strings.Repeat("x", 10000))
		default:
			io.WriteString(w, `{"received":true}`)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	p, err := NewPoster(srv.URL+"/hook?a=1", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	post := func(n string) int {
		status, err := p.Post(context.Background(), []string{"X-Test: yes", "X-N: " + n}, []byte("body-"+n))
		if err != nil {
			t.Fatalf("post %s: %v", n, err)
		}
		return status
	}
	for i, want := range map[string]int{"1": 200, "7": 202, "8": 418} {
		if got := post(i); got != want {
			t.Errorf("post %s: status %d, want %d", i, got, want)
		}
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				if s := post("1"); s != 200 {
					t.Errorf("status %d", s)
				}
			}
		}()
	}
	wg.Wait()
	// One connection closed by the server after "7": at most 3 in all.
	if n := conns.Load(); n > 3 {
		t.Errorf("%d connections for 2 senders and one close, want ≤ 3", n)
	}

	if _, err := NewPoster("https://example.com/x", 1); err == nil {
		t.Error("NewPoster accepted an https URL")
	}
}

// A server that hangs up mid-answer is an error, not a status.
func TestPosterReportsADroppedConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		buf := make([]byte, 4096)
		c.Read(buf)
		c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"))
		c.Close()
	}()
	p, err := NewPoster("http://"+ln.Addr().String()+"/", 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Post(context.Background(), nil, []byte("x")); err == nil {
		t.Fatal("Post returned no error for a truncated answer")
	}
}
