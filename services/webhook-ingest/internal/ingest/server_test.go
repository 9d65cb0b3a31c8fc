package ingest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/testenv"
)

// rawAnswer reads one answer from c within d: its status and, for a JSON
// refusal, its error code.
func rawAnswer(t *testing.T, c net.Conn, d time.Duration) (int, string) {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer within %s: %v", d, err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error struct{ Code string } `json:"error"`
	}
	if resp.Header.Get("Content-Type") == "application/json" {
		if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
			t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
		}
	}
	return resp.StatusCode, answer.Error.Code
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func write(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

// silent reports an error unless c is open and nothing came on it: a read
// that waits a moment must time out.
func silent(c net.Conn) error {
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Millisecond)); err != nil {
		return err
	}
	n, err := c.Read(make([]byte, 1))
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("read %d bytes, %v: want an open, silent connection", n, err)
}

// TestAnswersWhileSocketsHoldDeclaredBodies: 300 connections, each a POST
// whose header declares a 1 MiB body and then nothing, are each a handler
// waiting for its body, and cost what was sent, not what was declared; signed
// webhooks sent meanwhile are answered 200 and are on the topic.
func TestAnswersWhileSocketsHoldDeclaredBodies(t *testing.T) {
	const sockets, declared = 300, 1 << 20
	limits := defaultLimits()
	// Longer than the test: the sockets are still held when it checks.
	limits.ReadHeaderTimeout, limits.ReadTimeout = 2*time.Minute, 2*time.Minute
	s := startServiceWith(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)), limits)
	tpls := loadgen.Shapes()

	heapBefore := heapInuse()
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nStripe-Signature: %s\r\nContent-Length: %d\r\n\r\n",
		Path, stripeevent.Sign([]byte("{}"), time.Now(), secretOld), declared)
	held := make([]net.Conn, sockets)
	for i := range held {
		held[i] = dial(t, s.addr)
		write(t, held[i], head)
	}
	testenv.Eventually(t, time.Minute, func() error {
		if n := s.inFlight.Load(); n < sockets {
			return fmt.Errorf("%d of the %d silent requests in the handler", n, sockets)
		}
		return nil
	})
	if grew := heapInuse() - heapBefore; grew > 64<<20 {
		t.Errorf("the heap grew by %d MiB for %d silent requests declaring %d bytes each", grew>>20, sockets, declared)
	} else {
		t.Logf("the heap grew by %.1f MiB for %d silent requests declaring %d bytes each", float64(grew)/(1<<20), sockets, declared)
	}

	sent := map[string]bool{}
	for i := range 20 {
		body, eventID, _ := tpls[i%len(tpls)].Vary(i)
		sent[eventID] = true
		if status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now(), secretNew)); status != http.StatusOK {
			t.Fatalf("%s while %d sockets are held: %d %s, want 200", eventID, sockets, status, code)
		}
	}
	msgs := s.topicMessages(t)
	for _, m := range msgs {
		delete(sent, header(m, kafka.HeaderEventID))
	}
	if len(sent) != 0 || len(msgs) != 20 {
		t.Fatalf("topic holds %d messages; not there: %v", len(msgs), sent)
	}
	for i, c := range held {
		if err := silent(c); err != nil {
			t.Fatalf("held socket %d: %v", i, err)
		}
	}
	if n := s.inFlight.Load(); n < sockets {
		t.Fatalf("%d silent requests in the handler at the end, want %d", n, sockets)
	}
}

// heapInuse is the live heap's size, in bytes, after a collection.
func heapInuse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

// A body over MaxBody gets 413 body_too_large: at once when its header
// declares it, before a byte of it was sent; when it streams (chunked), as
// soon as it passes the limit. A body of exactly MaxBody bytes is taken.
func TestBodyOverLimitRefused(t *testing.T) {
	cfg := defaultConfig(testenv.Topic(t))
	cfg.MaxBody = 8 << 10
	s := startService(t, []string{testenv.Broker(t)}, cfg)

	t.Run("declared", func(t *testing.T) {
		c := dial(t, s.addr)
		write(t, c, fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: %d\r\n\r\n", Path, cfg.MaxBody+1))
		if status, code := rawAnswer(t, c, 10*time.Second); status != http.StatusRequestEntityTooLarge || code != "body_too_large" {
			t.Fatalf("declared %d bytes: %d %q, want 413 body_too_large", cfg.MaxBody+1, status, code)
		}
	})
	t.Run("chunked", func(t *testing.T) {
		c := dial(t, s.addr)
		chunk := strings.Repeat("a", 1000)
		var req strings.Builder
		fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nTransfer-Encoding: chunked\r\n\r\n", Path)
		for range 9 { // 9,000 bytes, and the stream does not end
			fmt.Fprintf(&req, "%x\r\n%s\r\n", len(chunk), chunk)
		}
		write(t, c, req.String())
		if status, code := rawAnswer(t, c, 10*time.Second); status != http.StatusRequestEntityTooLarge || code != "body_too_large" {
			t.Fatalf("a chunked body past %d bytes: %d %q, want 413 body_too_large", cfg.MaxBody, status, code)
		}
	})
	t.Run("exactly the limit", func(t *testing.T) {
		event := `{"id":"evt_limit","type":"charge.succeeded","data":{"object":{"id":"ch_limit","pad":""}}}`
		body := []byte(strings.Replace(event, `"pad":""`, `"pad":"`+strings.Repeat("a", int(cfg.MaxBody)-len(event))+`"`, 1))
		if int64(len(body)) != cfg.MaxBody {
			t.Fatalf("body of %d bytes", len(body))
		}
		if status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now(), secretOld)); status != http.StatusOK {
			t.Fatalf("a body of exactly MaxBody: %d %q, want 200", status, code)
		}
	})
	if got := s.count(bodyTooLarge.reason); got != 2 {
		t.Errorf("body_too_large counted %d times, want 2", got)
	}
}

// A sender that trickles its body slower than the read timeout allows is
// cut off when the timeout passes, though bytes keep coming: the connection
// is closed unanswered and nothing is counted.
func TestStalledBodyCutOffByReadTimeout(t *testing.T) {
	limits := defaultLimits()
	limits.ReadHeaderTimeout, limits.ReadTimeout = 300*time.Millisecond, 300*time.Millisecond
	s := startServiceWith(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)), limits)
	c := dial(t, s.addr)
	write(t, c, "POST "+Path+" HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1=00\r\nContent-Length: 1000\r\n\r\n{")
	start := time.Now()
	go func() { // a byte every 20 ms: 20 s for the body, until the server closes
		for {
			time.Sleep(20 * time.Millisecond)
			if _, err := c.Write([]byte(" ")); err != nil {
				return
			}
		}
	}()
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	took := time.Since(start)
	switch {
	case err != nil && !errors.Is(err, os.ErrDeadlineExceeded):
		// A reset: the server closed with bytes of ours unread. Closed all the same.
	case err != nil:
		t.Fatalf("still open after %s with a read timeout of %s", took, limits.ReadTimeout)
	case len(got) != 0:
		t.Fatalf("answered %q, want the connection closed unanswered", got)
	}
	if took < limits.ReadTimeout/2 {
		t.Errorf("closed after %s, before the read timeout of %s", took, limits.ReadTimeout)
	}
	t.Logf("closed %s after the header, read timeout %s", took.Round(time.Millisecond), limits.ReadTimeout)
	if n := s.count(unreadableBody.reason); n != 0 {
		t.Errorf("unreadable_body counted %d times, want 0", n)
	}
}

// A header over MaxHeaderBytes gets net/http's own 431; the handler never
// sees it.
func TestHeaderTooLarge(t *testing.T) {
	s := startService(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)))
	c := dial(t, s.addr)
	write(t, c, "POST "+Path+" HTTP/1.1\r\nHost: x\r\nStripe-Signature: t=1,v1="+strings.Repeat("0", defaultLimits().MaxHeaderBytes+4096)+"\r\nContent-Length: 2\r\n\r\n{}")
	if status, _ := rawAnswer(t, c, 10*time.Second); status != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a header over %d bytes: %d, want 431", defaultLimits().MaxHeaderBytes, status)
	}
	if n := s.count(unreadableBody.reason) + s.count("malformed_signature"); n != 0 {
		t.Errorf("the handler counted %d requests, want none", n)
	}
}
