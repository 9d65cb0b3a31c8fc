package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
)

// battery counts what a hostile input run tried, and what was refused.
type battery struct {
	t                testing.TB
	tried, refused   int
	peakKiB          map[string]int64
	publicServices   []string
	refusedByKind    map[string]int
	unexpectedByKind map[string][]string
}

func newBattery(t testing.TB) *battery {
	return &battery{t: t, peakKiB: map[string]int64{}, publicServices: []string{"api", "webhook-ingest", "notifier"},
		refusedByKind: map[string]int{}, unexpectedByKind: map[string][]string{}}
}

// outcome records one input: refused or not, and samples every service's RSS.
func (b *battery) outcome(kind string, refused bool, what string) {
	b.tried++
	if refused {
		b.refused++
		b.refusedByKind[kind]++
	} else {
		b.unexpectedByKind[kind] = append(b.unexpectedByKind[kind], what)
	}
}

func (b *battery) sampleRSS() {
	for _, name := range devstack.Services {
		if kib, err := rssKiB(stack.Service(name).Pid()); err == nil && kib > b.peakKiB[name] {
			b.peakKiB[name] = kib
		}
	}
}

func rssKiB(pid int) (int64, error) {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(s), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kib int64
			_, err := fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), &kib)
			return kib, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for %d", pid)
}

// refusedStatus: a 4xx answer is a refusal; no answer at all (0: the
// server closed the connection) is one too. A 2xx or a 5xx is not.
func refusedStatus(status int) bool { return status == 0 || status >= 400 && status < 500 }

// statusOf sends req and returns the answer's status, 0 for none.
func statusOf(req *http.Request) int {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rawExchange writes req on a fresh connection and returns the status line's
// code, 0 when the server closed the connection without an answer.
func rawExchange(addr, req string, wait time.Duration) int {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return -1
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := io.WriteString(c, req); err != nil {
		return 0
	}
	buf := make([]byte, 64)
	n, _ := io.ReadAtLeast(c, buf, 12)
	var code int
	if n >= 12 {
		fmt.Sscanf(string(buf[9:12]), "%d", &code)
	}
	return code
}

// TestHostileInputs throws malformed, oversized, forged and slow inputs at
// every public port (a small run: make test); each must be refused, and no
// service may crash. It logs what was tried, refused and each service's peak
// RSS (docs/security.md quotes a run).
//
// STRIPELINE_HOSTILE_SCALE (make hostile: 25) multiplies the floods: slow
// connections per port and websocket connections.
func TestHostileInputs(t *testing.T) {
	scale := 1
	if v, err := strconv.Atoi(os.Getenv("STRIPELINE_HOSTILE_SCALE")); err == nil && v > 1 {
		scale = v
	}
	b := newBattery(t)
	b.sampleRSS()
	addrs := map[string]string{}
	for _, s := range b.publicServices {
		addrs[s] = stack.Config.Addrs[s]
	}

	// Malformed HTTP on every public port.
	malformed := map[string]string{
		"garbage request line": "GARBAGE\r\n\r\n",
		"header without colon": "POST / HTTP/1.1\r\nHost: x\r\nno-colon-here\r\n\r\n",
		"64 KiB header":        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
		"bad content-length":   "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
		"two content-lengths":  "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"http/0.9":             "GET /\r\n\r\n",
	}
	for svc, addr := range addrs {
		for name, req := range malformed {
			code := rawExchange(addr, req, 5*time.Second)
			b.outcome("malformed HTTP", code == 0 || refusedStatus(code), fmt.Sprintf("%s %s: %d", svc, name, code))
		}
	}
	b.sampleRSS()

	// Bad JSON on every api route, with a valid key.
	badBodies := []string{"", "{", "[]", "null", `{"amount":"x","token":1}`, `{"amount":-1,"token":"tok_visa"}`,
		strings.Repeat("[", 100000) + strings.Repeat("]", 100000), `{"token":"tok_visa","amount":100,"currency":"` + strings.Repeat("x", 1<<20) + `"}`}
	for _, route := range []string{"/Stripe/charge", "/Stripe/payment-intents", "/api/services/Stripe/charge"} {
		for _, body := range badBodies {
			req, _ := http.NewRequest(http.MethodPost, stack.URL("api")+route, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", stack.Config.APIKey)
			status := statusOf(req)
			b.outcome("bad JSON on the api", refusedStatus(status), fmt.Sprintf("%s %.40q: %d", route, body, status))
		}
	}
	for _, q := range []string{"", "?id=", "?id=ch_1&limit=-1", "?id=ch_1&cursor=%%%", "?id=" + strings.Repeat("x", 10000), "?id=ch_1&token=forged"} {
		req, _ := http.NewRequest(http.MethodGet, stack.URL("api")+"/Stripe/events"+q, nil)
		req.Header.Set("X-API-Key", stack.Config.APIKey)
		status := statusOf(req)
		b.outcome("bad query on the api", refusedStatus(status), fmt.Sprintf("events%.40s: %d", q, status))
	}
	b.sampleRSS()

	// Forged, stale and unsigned webhooks.
	body := []byte(`{"id":"evt_hostile","object":"event","type":"charge.succeeded","created":1,"data":{"object":{"id":"ch_hostile","object":"charge"}}}`)
	for name, sig := range map[string]string{
		"forged":     stripeevent.Sign(body, time.Now(), "whsec_not_the_secret_at_all"),
		"stale":      stripeevent.Sign(body, time.Now().Add(-time.Hour), stack.Config.WebhookSecret),
		"future":     stripeevent.Sign(body, time.Now().Add(time.Hour), stack.Config.WebhookSecret),
		"unsigned":   "",
		"malformed":  "t=abc,v1=zz",
		"other body": stripeevent.Sign([]byte(`{}`), time.Now(), stack.Config.WebhookSecret),
	} {
		req, _ := http.NewRequest(http.MethodPost, stack.URL("webhook-ingest")+"/webhooks/stripe", bytes.NewReader(body))
		req.Header.Set("Stripe-Signature", sig)
		status := statusOf(req)
		b.outcome("forged webhook", refusedStatus(status), fmt.Sprintf("%s: %d", name, status))
	}

	// Slow and silent senders on every public port: headers trickled, and
	// bodies declared large that never come. A real request must still be
	// served meanwhile.
	slow := 40 * scale
	var held []net.Conn
	for svc, addr := range addrs {
		for i := range slow {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				continue
			}
			held = append(held, c)
			if i%2 == 0 {
				_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nX-Slow: ") // never finished
			} else {
				_, _ = fmt.Fprintf(c, "POST /webhooks/stripe HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n\r\n", svc, 1<<20)
			}
		}
	}
	b.sampleRSS()
	for _, svc := range b.publicServices {
		resp, err := http.Get(stack.URL(svc) + "/healthz")
		ok := err == nil && resp.StatusCode == http.StatusOK
		if err == nil {
			resp.Body.Close()
		}
		if !ok {
			t.Errorf("%s: /healthz not answered while %d slow connections were held: %v", svc, slow, err)
		}
	}
	// Each held connection got nothing, or a refusal, or was closed: never
	// a success.
	deadline := time.Now().Add(200 * time.Millisecond)
	for _, c := range held {
		_ = c.SetReadDeadline(deadline)
		line := make([]byte, 12)
		n, _ := io.ReadFull(c, line)
		code := 0
		if n == 12 {
			fmt.Sscanf(string(line[9:12]), "%d", &code)
		}
		b.outcome("slow sender", n == 0 || refusedStatus(code), fmt.Sprintf("%s: answered %q", c.RemoteAddr(), line[:n]))
		c.Close()
	}

	// Websocket: a flood of connections with bad tokens, malformed frames,
	// huge and deeply nested selectors.
	wsURL := "ws://" + stack.Config.Addrs["notifier"] + "/ws"
	frames := []string{
		`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_1'","token":"forged"}`,
		`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_1'"}`,
		`not json`,
		`{"type":"nonsense"}`,
		`{"type":"subscribe","channel":"stripe","selector":"` + strings.Repeat("(", 5000) + "id = 'ch_1'" + strings.Repeat(")", 5000) + `","token":"x"}`,
		`{"type":"subscribe","channel":"stripe","selector":"id IN (` + strings.TrimSuffix(strings.Repeat("'x',", 20000), ",") + `)","token":"x"}`,
		`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_1' AND ` + strings.Repeat("type = 'a' OR ", 3000) + `type = 'b'","token":"x"}`,
	}
	for i := range 100 * scale {
		c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err != nil {
			b.outcome("websocket", true, "dial refused")
			continue
		}
		frame := frames[i%len(frames)]
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		werr := c.WriteMessage(websocket.TextMessage, []byte(frame))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, answer, rerr := c.ReadMessage()
		refused := werr != nil || rerr != nil || strings.Contains(string(answer), `"error"`)
		b.outcome("websocket", refused, fmt.Sprintf("%.60s → %.80s %v", frame, answer, rerr))
		c.Close()
	}
	b.sampleRSS()

	// Controls: the same judges pass what is valid, so a refusal above is
	// the input's, not a broken judge's.
	good := []byte(`{"id":"evt_control_` + devstack.RandomHex(6) + `","object":"event","type":"charge.succeeded","created":1,"data":{"object":{"id":"ch_control","object":"charge"}}}`)
	req, _ := http.NewRequest(http.MethodPost, stack.URL("webhook-ingest")+"/webhooks/stripe", bytes.NewReader(good))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(good, time.Now(), stack.Config.WebhookSecret))
	if resp, err := http.DefaultClient.Do(req); err != nil || refusedStatus(resp.StatusCode) {
		t.Errorf("control: a signed webhook was refused (%v)", err)
	} else {
		resp.Body.Close()
	}
	if code := rawExchange(addrs["api"], "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 5*time.Second); code != http.StatusOK {
		t.Errorf("control: a well-formed request on the api's port got %d", code)
	}
	c, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte(`{"type":"subscribe","channel":"stripe","selector":"id = 'ch_control'","token":"`+mintToken(t, "ch_control")+`"}`))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, answer, err := c.ReadMessage(); err != nil || strings.Contains(string(answer), `"error"`) {
		t.Errorf("control: a valid subscription was refused: %s %v", answer, err)
	}
	c.Close()

	// Nothing crashed, every service still answers.
	for _, name := range devstack.Services {
		select {
		case <-stack.Service(name).Done():
			t.Errorf("%s exited during the battery: %v", name, stack.Service(name).Err())
		default:
		}
	}
	for _, svc := range b.publicServices {
		resp, err := http.Get(stack.URL(svc) + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("%s: /healthz after the battery: %v", svc, err)
		}
		if err == nil {
			resp.Body.Close()
		}
	}
	for kind, whats := range b.unexpectedByKind {
		t.Errorf("%s: %d not refused: %s", kind, len(whats), strings.Join(whats, "; "))
	}
	t.Logf("hostile inputs (scale %d): %d tried, %d refused; refused by kind %v; peak RSS KiB %v; crashes 0", scale, b.tried, b.refused, b.refusedByKind, b.peakKiB)
}
