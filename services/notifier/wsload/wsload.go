// Package wsload measures a running notifier from the client side: server
// memory per idle subscribed connection, deliveries per second, and latency
// from the webhook POST to the websocket frame. `make bench` calls Run (or
// the notifier-load command); it needs only the addresses and secrets of a
// running stack.
package wsload

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/subtoken"
)

// Config says what to measure against.
type Config struct {
	NotifierURL   string // ws://host:port/ws
	NotifierPID   int    // for memory figures; 0 skips them
	WebhookURL    string // http://host:port/webhooks/stripe
	WebhookSecret string // the ingest's signing secret
	TokenSecret   string // SUBSCRIPTION_TOKEN_SECRET; empty sends no tokens

	Conns    int           // idle subscribed connections, each to its own transaction
	Rate     float64       // webhooks per second during the latency phase
	Duration time.Duration // of the latency phase; 0 skips it
	Senders  int           // concurrent webhook POSTs (default 64)
	Settle   time.Duration // idle time before reading the server's memory (default 5s)
}

// Result is what Run measured. Latencies are in milliseconds.
type Result struct {
	Conns            int     `json:"conns"`
	ServerRSSBefore  int64   `json:"server_rss_before_bytes"`
	ServerRSSAfter   int64   `json:"server_rss_connected_bytes"`
	BytesPerConn     float64 `json:"server_bytes_per_idle_conn"`
	Sent             int     `json:"webhooks_sent"`
	Accepted         int     `json:"webhooks_accepted"`
	Delivered        int     `json:"delivered"`
	Seconds          float64 `json:"seconds"`
	DeliveriesPerSec float64 `json:"deliveries_per_second"`
	P50              float64 `json:"p50_ms"`
	P99              float64 `json:"p99_ms"`
	Max              float64 `json:"max_ms"`
}

func (c *Config) setDefaults() {
	if c.Senders <= 0 {
		c.Senders = 64
	}
	if c.Settle <= 0 {
		c.Settle = 5 * time.Second
	}
}

// Run opens the connections, reads the notifier's memory, then sends
// webhooks at Rate for Duration to random subscribed transactions and
// times each from the start of its POST to the frame's arrival.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.setDefaults()
	res := Result{Conns: cfg.Conns}
	var err error
	if cfg.NotifierPID > 0 {
		if res.ServerRSSBefore, err = RSS(cfg.NotifierPID); err != nil {
			return res, err
		}
	}
	fleet, err := Open(ctx, cfg.NotifierURL, cfg.TokenSecret, cfg.Conns)
	if err != nil {
		return res, err
	}
	defer fleet.Close()
	if cfg.NotifierPID > 0 {
		select {
		case <-time.After(cfg.Settle):
		case <-ctx.Done():
			return res, ctx.Err()
		}
		if res.ServerRSSAfter, err = RSS(cfg.NotifierPID); err != nil {
			return res, err
		}
		if cfg.Conns > 0 {
			res.BytesPerConn = math.Round(float64(res.ServerRSSAfter-res.ServerRSSBefore) / float64(cfg.Conns))
		}
	}
	if cfg.Duration <= 0 || cfg.Rate <= 0 || cfg.Conns == 0 {
		return res, nil
	}
	return fleet.measure(ctx, cfg, res)
}

// Fleet is a set of subscribed client connections.
type Fleet struct {
	conns []*websocket.Conn
	ids   []string
	wg    sync.WaitGroup

	mu      sync.Mutex
	sent    map[string]time.Time // event id → start of its POST
	lat     []time.Duration
	arrived atomic.Int64
}

// Open dials n connections, each subscribed to a transaction of its own
// (ch_load_<run>_<i>), and waits for every subscribed answer.
func Open(ctx context.Context, url, tokenSecret string, n int) (*Fleet, error) {
	f := &Fleet{sent: map[string]time.Time{}}
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	dialer := &websocket.Dialer{HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024, WriteBufferPool: &sync.Pool{}}
	type dialed struct {
		i    int
		conn *websocket.Conn
		err  error
	}
	out := make(chan dialed)
	work := make(chan int)
	for range 32 {
		go func() {
			for i := range work {
				id := fmt.Sprintf("ch_load_%s_%d", run, i)
				c, err := subscribeOne(ctx, dialer, url, id, tokenSecret)
				out <- dialed{i, c, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range n {
			select {
			case work <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	f.conns = make([]*websocket.Conn, n)
	f.ids = make([]string, n)
	var errs []error
	for range n {
		d := <-out
		if d.err != nil {
			errs = append(errs, d.err)
			continue
		}
		f.conns[d.i] = d.conn
		f.ids[d.i] = fmt.Sprintf("ch_load_%s_%d", run, d.i)
	}
	if len(errs) > 0 {
		f.Close()
		return nil, fmt.Errorf("%d of %d connections failed, first: %w", len(errs), n, errs[0])
	}
	for _, c := range f.conns {
		f.wg.Add(1)
		go f.read(c)
	}
	return f, nil
}

func subscribeOne(ctx context.Context, d *websocket.Dialer, url, id, tokenSecret string) (*websocket.Conn, error) {
	c, _, err := d.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	frame := map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = '" + id + "'"}
	if tokenSecret != "" {
		frame["token"] = subtoken.Sign([]byte(tokenSecret), id, time.Now().Add(24*time.Hour))
	}
	if err := c.WriteJSON(frame); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var answer struct{ Type, Code, Message string }
	if err := c.ReadJSON(&answer); err != nil || answer.Type != "subscribed" {
		c.Close()
		return nil, fmt.Errorf("subscribe %s: %+v %v", id, answer, err)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

func (f *Fleet) read(c *websocket.Conn) {
	defer f.wg.Done()
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		// The event id is in the headers; finding it beats decoding 3 KB.
		id := eventIDOf(b)
		f.mu.Lock()
		if t0, ok := f.sent[id]; ok {
			f.lat = append(f.lat, at.Sub(t0))
		}
		f.mu.Unlock()
		f.arrived.Add(1)
	}
}

var eventIDKey = []byte(`"event_id":"`)

func eventIDOf(frame []byte) string {
	i := bytes.Index(frame, eventIDKey)
	if i < 0 {
		return ""
	}
	rest := frame[i+len(eventIDKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// Close closes every connection.
func (f *Fleet) Close() {
	for _, c := range f.conns {
		if c != nil {
			c.Close()
		}
	}
	f.wg.Wait()
}

func (f *Fleet) measure(ctx context.Context, cfg Config, res Result) (Result, error) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Senders, MaxConnsPerHost: cfg.Senders}}
	jobs := make(chan int, cfg.Senders*4)
	var sent, accepted atomic.Int64
	var wg sync.WaitGroup
	for range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				id := f.ids[i%len(f.ids)]
				evID, body := chargeEvent(id, i)
				f.mu.Lock()
				f.sent[evID] = time.Now()
				f.mu.Unlock()
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.WebhookURL, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), cfg.WebhookSecret))
				sent.Add(1)
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					accepted.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	total := int(cfg.Rate * cfg.Duration.Seconds())
	// Open loop: each event is due at its own time, whether or not the
	// previous answers came back.
	for i := range total {
		due := start.Add(time.Duration(float64(i) / cfg.Rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		select {
		case jobs <- (i*7919 + 1) % (1 << 30): // spread over the transactions
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	// Wait for the stragglers: until every accepted event arrived, or 10 s.
	deadline := time.Now().Add(10 * time.Second)
	for f.arrived.Load() < accepted.Load() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	f.mu.Lock()
	lat := slices.Clone(f.lat)
	f.mu.Unlock()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }
	at := func(q float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return ms(lat[min(len(lat)-1, int(q*float64(len(lat))))])
	}
	res.Sent, res.Accepted, res.Delivered = int(sent.Load()), int(accepted.Load()), len(lat)
	res.Seconds = math.Round(elapsed.Seconds()*100) / 100
	res.DeliveriesPerSec = math.Round(float64(len(lat)) / elapsed.Seconds())
	res.P50, res.P99 = at(0.50), at(0.99)
	if len(lat) > 0 {
		res.Max = ms(lat[len(lat)-1])
	}
	if res.Delivered < res.Accepted {
		return res, fmt.Errorf("%d of %d accepted webhooks were not delivered", res.Accepted-res.Delivered, res.Accepted)
	}
	return res, nil
}

// chargeEvent is a charge.succeeded for id of Stripe's size (≈3.5 KB).
func chargeEvent(id string, i int) (string, []byte) {
	evID := fmt.Sprintf("evt_load_%s_%d", id, i)
	body, _ := json.Marshal(map[string]any{
		"id": evID, "object": "event", "api_version": "2023-10-16", "created": time.Now().Unix(),
		"livemode": false, "pending_webhooks": 1, "type": "charge.succeeded",
		"request": map[string]any{"id": nil, "idempotency_key": nil},
		"data": map[string]any{"object": map[string]any{
			"id": id, "object": "charge", "amount": 2000, "currency": "usd", "status": "succeeded",
			"payment_intent": "pi_" + id, "customer": "cus_load",
			"description": strings.Repeat("load test charge ", 180),
		}},
	})
	return evID, body
}

// RSS is a process's resident set size in bytes, from /proc.
func RSS(pid int) (int64, error) {
	if runtime.GOOS != "linux" {
		return 0, errors.New("RSS needs /proc (linux)")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}
