package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/eventgen"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/ingest"
)

// Memory is what connections that declare a large body and then go silent
// cost ingest, served in this process: the growth of the process's resident
// memory and of its live heap while they are all held, and webhooks are
// answered beside them. A server that allocates a request's declared
// length before reading it grows by Sockets × Declared.
type Memory struct {
	Sockets  int   // connections held, each a POST header declaring Declared bytes, then nothing
	Declared int64 // the Content-Length each declared: ingest's MaxBody
	Webhooks int   // signed webhooks answered 200 while the sockets were held
	// RSS is the process's resident memory (VmRSS), HeapInuse the Go
	// heap's spans in use after a collection, before the sockets were
	// opened and once they were all held and the webhooks answered.
	RSSBefore, RSSAfter             int64
	HeapInuseBefore, HeapInuseAfter int64
}

// memoryWebhooks is how many webhooks are sent while the sockets are held.
const memoryWebhooks = 200

// memoryTarget is the most the process may grow by.
const memoryTarget = 64 << 20

func (m Memory) String() string {
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	return fmt.Sprintf("memory: %d silent sockets declaring %d bytes each + %d webhooks: RSS %+.1f MiB (%.1f → %.1f), heap in use %+.1f MiB (%.1f → %.1f); target < %d MiB",
		m.Sockets, m.Declared, m.Webhooks,
		mib(m.RSSAfter-m.RSSBefore), mib(m.RSSBefore), mib(m.RSSAfter),
		mib(m.HeapInuseAfter-m.HeapInuseBefore), mib(m.HeapInuseBefore), mib(m.HeapInuseAfter), memoryTarget>>20)
}

// measureMemory serves ingest in this process, reads its memory, opens
// cfg.SilentSockets connections that each send a POST header declaring a
// body of MaxBody bytes and then nothing, waits until each is a request in
// the handler, posts signed webhooks (each must get 200), and reads its
// memory again while the sockets are still held.
func measureMemory(ctx context.Context, cfg Config) (Memory, error) {
	tpls, err := eventgen.Load(cfg.EventsDir)
	if err != nil {
		return Memory{}, err
	}
	h, pub, err := newIngest(cfg.Brokers, topicName("memory"), "bench-memory")
	if err != nil {
		return Memory{}, err
	}
	defer pub.Close()
	var inFlight atomic.Int64
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inFlight.Add(1)
		defer inFlight.Add(-1)
		h.ServeHTTP(w, r)
	})
	limits := Limits()
	// Longer than the measurement, so that no socket is cut off before the
	// second reading; the rest are ingest's.
	limits.ReadHeaderTimeout, limits.ReadTimeout = 2*time.Minute, 2*time.Minute
	addr, stop, err := serve(ingest.Routes(counted, http.NotFoundHandler()), limits)
	if err != nil {
		return Memory{}, err
	}
	defer stop()
	client := &http.Client{Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	post := func(i int) error {
		body, _, _ := tpls[i%len(tpls)].Vary(i)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+ingest.Path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), secret))
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("webhook %d: status %d", i, resp.StatusCode)
		}
		return nil
	}
	// Warm up: the topic exists, the client's connection is open.
	if err := post(0); err != nil {
		return Memory{}, fmt.Errorf("warm-up: %w", err)
	}

	m := Memory{Sockets: cfg.SilentSockets, Declared: 1 << 20, Webhooks: memoryWebhooks}
	if m.RSSBefore, m.HeapInuseBefore, err = readMemory(); err != nil {
		return m, err
	}
	head := fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nStripe-Signature: %s\r\nContent-Length: %d\r\n\r\n",
		ingest.Path, addr, stripeevent.Sign([]byte("{}"), time.Now(), secret), m.Declared)
	for range m.Sockets {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return m, err
		}
		defer c.Close()
		if _, err := c.Write([]byte(head)); err != nil {
			return m, err
		}
	}
	if err := waitFor(ctx, time.Minute, func() bool { return inFlight.Load() >= int64(m.Sockets) }); err != nil {
		return m, fmt.Errorf("%d of %d silent requests in the handler: %w", inFlight.Load(), m.Sockets, err)
	}
	for i := 1; i <= m.Webhooks; i++ {
		if err := post(i); err != nil {
			return m, err
		}
	}
	if m.RSSAfter, m.HeapInuseAfter, err = readMemory(); err != nil {
		return m, err
	}
	if n := inFlight.Load(); n < int64(m.Sockets) {
		return m, fmt.Errorf("only %d of the %d silent requests were still held at the second reading", n, m.Sockets)
	}
	return m, nil
}

// waitFor polls cond every 10 ms until it holds, for at most d.
func waitFor(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// readMemory collects garbage and returns the process's resident memory
// (VmRSS of /proc/self/status) and the heap's spans in use, in bytes.
func readMemory() (rss, heapInuse int64, err error) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if kb, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(kb), "kB")), 10, 64)
			return n << 10, int64(ms.HeapInuse), err
		}
	}
	return 0, 0, errors.Join(sc.Err(), errors.New("no VmRSS in /proc/self/status"))
}
