package httpserver

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Serve stops accepting when the context ends and lets an in-flight request finish.
func TestServeDrainsOnShutdown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(200 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ServeListener(ctx, ln, h, DefaultLimits(), 5*time.Second, slog.New(slog.DiscardHandler))
	}()

	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	if body := <-got; body != "done" {
		t.Fatalf("in-flight request got %q, want done", body)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve returned %v after a clean shutdown", err)
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Fatal("still accepting after shutdown")
	}
}

// With MaxConns connections open, the next one is not served until one of
// them closes.
func TestMaxConnsBoundsConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limits := DefaultLimits()
	limits.MaxConns = 2
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- ServeListener(ctx, ln, h, limits, 5*time.Second, slog.New(slog.DiscardHandler)) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	}()

	// get sends a request on c and waits up to d for the start of an answer.
	get := func(c net.Conn, d time.Duration) error {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		return answered(c, d)
	}
	var open []net.Conn
	for range limits.MaxConns {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := get(c, 10*time.Second); err != nil {
			t.Fatalf("connection %d of %d not served: %v", len(open)+1, limits.MaxConns, err)
		}
		open = append(open, c) // kept alive: it holds its place
	}

	extra, err := net.Dial("tcp", ln.Addr().String()) // the kernel accepts it; the server does not
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	if err := get(extra, 500*time.Millisecond); err == nil {
		t.Fatalf("connection %d served while %d were open", limits.MaxConns+1, limits.MaxConns)
	}
	open[0].Close()
	if err := answered(extra, 10*time.Second); err != nil {
		t.Fatalf("connection %d not served once one of the others closed: %v", limits.MaxConns+1, err)
	}
}

// answered waits up to d for the status line of an answer on c.
func answered(c net.Conn, d time.Duration) error {
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		return err
	}
	line := make([]byte, len("HTTP/1.1 200"))
	if _, err := io.ReadFull(c, line); err != nil {
		return err
	}
	if string(line) != "HTTP/1.1 200" {
		return errors.New("answered " + string(line))
	}
	return nil
}

// Validate names each limit that cannot work by its setting.
func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate("API_"); err != nil {
		t.Fatalf("DefaultLimits: %v", err)
	}
	l := DefaultLimits()
	l.ReadTimeout, l.WriteTimeout, l.IdleTimeout, l.MaxConns = 0, -time.Second, 0, 0
	err := l.Validate("X_")
	if err == nil {
		t.Fatal("Validate accepts zero and negative limits")
	}
	for _, want := range []string{"X_READ_TIMEOUT must be positive", "X_WRITE_TIMEOUT must be positive", "X_IDLE_TIMEOUT must be positive", "X_MAX_CONNECTIONS must be positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want %q in it", err, want)
		}
	}
}
