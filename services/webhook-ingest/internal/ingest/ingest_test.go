package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/testenv"
)

const (
	secretOld = "whsec_test_old"
	secretNew = "whsec_test_new"
)

// service is the handler on a real HTTP server (pkg/httpserver, as the
// service serves it), publishing to a real broker.
type service struct {
	url     string
	addr    string
	brokers []string
	topic   string
	metrics *Metrics
	reg     *prometheus.Registry
	// inFlight is the number of requests in the webhook handler now.
	inFlight atomic.Int64
}

func defaultConfig(topic string) Config {
	return Config{
		Topic:          topic,
		Secrets:        []string{secretOld, secretNew},
		Tolerance:      300 * time.Second,
		MaxBody:        1 << 20,
		PublishTimeout: 5 * time.Second,
	}
}

// defaultLimits are the service's server limits with its default settings.
func defaultLimits() httpserver.Limits {
	l := httpserver.DefaultLimits()
	l.ReadHeaderTimeout, l.ReadTimeout, l.WriteTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	return l
}

func startService(t testing.TB, brokers []string, cfg Config) *service {
	t.Helper()
	return startServiceWith(t, brokers, cfg, defaultLimits())
}

// startServiceWith is startService with the server's limits.
func startServiceWith(t testing.TB, brokers []string, cfg Config, limits httpserver.Limits) *service {
	t.Helper()
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "webhook-ingest-test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &service{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), brokers: brokers, topic: cfg.Topic, metrics: metrics, reg: reg}
	h := New(cfg, pub, metrics, logger)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.inFlight.Add(1)
		defer s.inFlight.Add(-1)
		h.ServeHTTP(w, r)
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- httpserver.ServeListener(ctx, ln, Routes(counted, http.NotFoundHandler()), limits, 5*time.Second, logger)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("server: %v", err)
		}
		pub.Close()
	})
	return s
}

// post sends a webhook and returns the status and the error code of the answer.
func (s *service) post(t testing.TB, path string, body []byte, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if signature != "" {
		req.Header.Set("Stripe-Signature", signature)
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var answer struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		t.Fatalf("answer %d is not JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, answer.Error.Code
}

func (s *service) topicMessages(t testing.TB) []*sarama.ConsumerMessage {
	t.Helper()
	return testenv.TopicMessages(t, s.brokers, s.topic)
}

func (s *service) count(outcome string) int {
	return int(testutil.ToFloat64(s.metrics.requests.WithLabelValues(outcome)))
}

func loadEvents(t testing.TB) map[string][]byte {
	t.Helper()
	tpls := loadgen.Shapes()
	out := map[string][]byte{}
	for _, tpl := range tpls {
		out[tpl.Name] = tpl.Body
	}
	return out
}

func header(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}

func TestAcceptsEveryEventShapeByteForByte(t *testing.T) {
	s := startService(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)))
	events := loadEvents(t)
	// Each event once, alternating the paths and the secrets of a rotation.
	signings := [][]string{{secretOld}, {secretNew}, {secretNew, secretOld}}
	paths := []string{Path, BackendlessPath}
	i := 0
	sent := map[string][]byte{}
	for name, body := range events {
		path, secrets := paths[i%len(paths)], signings[i%len(signings)]
		i++
		status, code := s.post(t, path, body, stripeevent.Sign(body, time.Now(), secrets...))
		if status != http.StatusOK {
			t.Fatalf("%s at %s signed with %v: %d %s, want 200", name, path, secrets, status, code)
		}
		env, err := stripeevent.Parse(body)
		if err != nil {
			t.Fatal(err)
		}
		sent[env.ID] = body
	}

	msgs := s.topicMessages(t)
	if len(msgs) != len(sent) {
		t.Fatalf("topic holds %d messages, want %d", len(msgs), len(sent))
	}
	for _, m := range msgs {
		id := header(m, kafka.HeaderEventID)
		body, ok := sent[id]
		if !ok {
			t.Fatalf("unexpected event %q on the topic", id)
		}
		if !bytes.Equal(m.Value, body) {
			t.Errorf("%s: published body differs from the one received", id)
		}
		env, _ := stripeevent.Parse(body)
		want := kafka.EventHeaders(env, time.Time{})
		for _, k := range []string{kafka.HeaderEventType, kafka.HeaderObjectID, kafka.HeaderObjectType, kafka.HeaderRelatedIDs, kafka.HeaderLivemode} {
			if got := header(m, k); got != want[k] {
				t.Errorf("%s: header %s = %q, want %q", id, k, got, want[k])
			}
		}
		if got := kafka.ReceivedAt(message.Metadata{kafka.HeaderReceivedAt: header(m, kafka.HeaderReceivedAt)}); time.Since(got) > time.Minute {
			t.Errorf("%s: received_at %q is not the ingest clock", id, header(m, kafka.HeaderReceivedAt))
		}
		if string(m.Key) != env.ObjectID {
			t.Errorf("%s: key %q, want the object id %q", id, m.Key, env.ObjectID)
		}
	}
	if got := s.count("accepted"); got != len(sent) {
		t.Errorf("accepted counter = %d, want %d", got, len(sent))
	}
}

// A body sent chunked (no Content-Length), as some proxies forward it, is
// read whole and published byte for byte.
func TestChunkedBodyAccepted(t *testing.T) {
	s := startService(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)))
	body := loadEvents(t)["charge.refunded"]
	req, err := http.NewRequest(http.MethodPost, s.url+Path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), secretNew))
	if status, code := do(t, req); status != http.StatusOK {
		t.Fatalf("chunked event: %d %s, want 200", status, code)
	}
	msgs := s.topicMessages(t)
	if len(msgs) != 1 || !bytes.Equal(msgs[0].Value, body) {
		t.Fatalf("topic holds %d messages, want the body once, byte for byte", len(msgs))
	}
}

// A connection that sends nothing, or half a request, within the read
// timeout is closed unanswered and is no delivery: HTTP clients dial
// connections ahead and may never use them, and an answer there is one they
// never asked for. One exception, net/http's: a header cut inside a line is
// read as that line, a malformed one, and gets net/http's own plain-text
// 400 before the connection closes. The handler sees none of them.
func TestSilentConnectionsClosedUnanswered(t *testing.T) {
	limits := defaultLimits()
	limits.ReadHeaderTimeout, limits.ReadTimeout = 200*time.Millisecond, 200*time.Millisecond
	s := startServiceWith(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)), limits)
	const badRequest = "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request"
	for _, tc := range []struct{ name, sent, want string }{
		{"nothing", "", ""},
		{"half a header, cut after a line", "POST " + Path + " HTTP/1.1\r\nHost: x\r\n", ""},
		{"half a header, cut inside a line", "POST " + Path + " HTTP/1.1\r\nHost: x\r\nStripe-Sig", badRequest},
		{"half of the body", "POST " + Path + " HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := io.WriteString(c, tc.sent); err != nil {
				t.Fatal(err)
			}
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("connection not closed by the server: %v", err)
			}
			if string(got) != tc.want {
				t.Fatalf("answered %q, want %q and the connection closed", got, tc.want)
			}
		})
	}
	if n := s.inFlight.Load(); n != 0 {
		t.Errorf("%d requests still in the handler", n)
	}
	if n := s.count(unreadableBody.reason); n != 0 {
		t.Errorf("unreadable_body counted %d times, want 0", n)
	}
}

func TestRejections(t *testing.T) {
	cfg := defaultConfig(testenv.Topic(t))
	cfg.MaxBody = 8 << 10
	s := startService(t, []string{testenv.Broker(t)}, cfg)
	good := loadEvents(t)["charge.succeeded"]
	now := time.Now()
	signed := func(body string) (string, string) { return body, stripeevent.Sign([]byte(body), now, secretOld) }
	big := `{"id":"evt_1","type":"x","data":{"object":{"id":"ch_1","pad":"` + strings.Repeat("a", 8<<10) + `"}}}`

	for _, tc := range []struct {
		name       string
		method     string
		chunked    bool // no Content-Length: the limit is enforced while reading
		body, sig  string
		wantStatus int
		wantCode   string
	}{
		{name: "GET", method: http.MethodGet, wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "PUT", method: http.MethodPut, body: string(good), sig: stripeevent.Sign(good, now, secretOld), wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "no signature", body: string(good), wantStatus: 400, wantCode: "missing_signature"},
		{name: "garbled signature", body: string(good), sig: "t=yesterday,v1=xyz", wantStatus: 400, wantCode: "malformed_signature"},
		{name: "signature without t", body: string(good), sig: "v1=" + strings.Repeat("ab", 32), wantStatus: 400, wantCode: "malformed_signature"},
		{name: "unknown secret", body: string(good), sig: stripeevent.Sign(good, now, "whsec_someone_else"), wantStatus: 400, wantCode: "invalid_signature"},
		{name: "body changed after signing", body: strings.Replace(string(good), `"amount": 2000`, `"amount": 1`, 1), sig: stripeevent.Sign(good, now, secretOld), wantStatus: 400, wantCode: "invalid_signature"},
		{name: "stale", body: string(good), sig: stripeevent.Sign(good, now.Add(-301*time.Second), secretOld), wantStatus: 400, wantCode: "stale_timestamp"},
		{name: "future", body: string(good), sig: stripeevent.Sign(good, now.Add(330*time.Second), secretOld), wantStatus: 400, wantCode: "future_timestamp"},
		{name: "over the limit", body: big, sig: stripeevent.Sign([]byte(big), now, secretOld), wantStatus: 413, wantCode: "body_too_large"},
		{name: "over the limit, chunked", chunked: true, body: big, sig: stripeevent.Sign([]byte(big), now, secretOld), wantStatus: 413, wantCode: "body_too_large"},
		{name: "not JSON", wantStatus: 400, wantCode: "not_an_event"},
		{name: "empty body", wantStatus: 400, wantCode: "not_an_event"},
		{name: "JSON array", wantStatus: 400, wantCode: "not_an_event"},
		{name: "no id", wantStatus: 400, wantCode: "not_an_event"},
		{name: "no type", wantStatus: 400, wantCode: "not_an_event"},
		{name: "no data.object", wantStatus: 400, wantCode: "not_an_event"},
		{name: "data.object without id", wantStatus: 400, wantCode: "not_an_event"},
		{name: "trailing garbage", wantStatus: 400, wantCode: "not_an_event"},
	} {
		switch tc.name { // signed bodies that are not events
		case "not JSON":
			tc.body, tc.sig = signed(`charge.succeeded ch_1`)
		case "empty body":
			tc.body, tc.sig = signed(``)
		case "JSON array":
			tc.body, tc.sig = signed(`[{"id":"evt_1"}]`)
		case "no id":
			tc.body, tc.sig = signed(`{"type":"charge.succeeded","data":{"object":{"id":"ch_1"}}}`)
		case "no type":
			tc.body, tc.sig = signed(`{"id":"evt_1","data":{"object":{"id":"ch_1"}}}`)
		case "no data.object":
			tc.body, tc.sig = signed(`{"id":"evt_1","type":"charge.succeeded","data":{}}`)
		case "data.object without id":
			tc.body, tc.sig = signed(`{"id":"evt_1","type":"charge.succeeded","data":{"object":{"object":"charge"}}}`)
		case "trailing garbage":
			tc.body, tc.sig = signed(string(good) + `,{}`)
		}
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			var body io.Reader = strings.NewReader(tc.body)
			if tc.chunked {
				body = io.MultiReader(body) // hides the length from net/http
			}
			for _, path := range []string{Path, BackendlessPath} {
				req, err := http.NewRequest(method, s.url+path, body)
				if err != nil {
					t.Fatal(err)
				}
				if tc.sig != "" {
					req.Header.Set("Stripe-Signature", tc.sig)
				}
				before := s.count(tc.wantCode)
				status, code := do(t, req)
				if status != tc.wantStatus || code != tc.wantCode {
					t.Fatalf("%s %s: %d %q, want %d %q", method, path, status, code, tc.wantStatus, tc.wantCode)
				}
				if got := s.count(tc.wantCode); got != before+1 {
					t.Errorf("counter %s went from %d to %d, want one more", tc.wantCode, before, got)
				}
				body = strings.NewReader(tc.body)
				if tc.chunked {
					body = io.MultiReader(body)
				}
			}
		})
	}
	// Every handler returned before this read, and the handler publishes
	// before it answers: whatever a rejection published would be here.
	if msgs := s.topicMessages(t); len(msgs) != 0 {
		t.Fatalf("rejected deliveries published %d messages", len(msgs))
	}
	if got := s.count("accepted"); got != 0 {
		t.Fatalf("accepted counter = %d after rejections only", got)
	}
}

func TestToleranceIsConfigurable(t *testing.T) {
	cfg := defaultConfig(testenv.Topic(t))
	cfg.Tolerance = time.Hour
	s := startService(t, []string{testenv.Broker(t)}, cfg)
	body := loadEvents(t)["payment_intent.succeeded"]
	if status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now().Add(-30*time.Minute), secretNew)); status != 200 {
		t.Fatalf("30 min old with a 1 h tolerance: %d %s, want 200", status, code)
	}
	if status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now().Add(-61*time.Minute), secretNew)); status != 400 || code != "stale_timestamp" {
		t.Fatalf("61 min old with a 1 h tolerance: %d %s, want 400 stale_timestamp", status, code)
	}
	if status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now().Add(50*time.Minute), secretNew)); status != 200 {
		t.Fatalf("50 min ahead with a 1 h tolerance: %d %s, want 200", status, code)
	}
}

func TestMetricsExposed(t *testing.T) {
	s := startService(t, []string{testenv.Broker(t)}, defaultConfig(testenv.Topic(t)))
	body := loadEvents(t)["invoice.paid"]
	s.post(t, Path, body, stripeevent.Sign(body, time.Now(), secretOld))
	s.post(t, Path, body, "t=1;v1=00")
	var text bytes.Buffer
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		text.WriteString(mf.String())
	}
	for _, want := range []string{
		"stripeline_webhook_requests_total", "stripeline_webhook_request_duration_seconds",
		`value:"accepted"`, `value:"malformed_signature"`, `value:"broker_error"`, `value:"broker_timeout"`,
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if got := testutil.CollectAndCount(s.metrics.duration); got != 2 {
		t.Errorf("histogram has %d series, want 2 (accepted, malformed_signature)", got)
	}
	if s.count("accepted") != 1 || s.count("malformed_signature") != 1 || s.count("invalid_signature") != 0 {
		t.Errorf("counters: accepted %d malformed %d invalid %d, want 1 1 0", s.count("accepted"), s.count("malformed_signature"), s.count("invalid_signature"))
	}
}

// TestSlowBrokerTimesOut: a broker that does not acknowledge within the
// publish timeout (here: a timeout shorter than any round trip) gets 503
// broker_timeout, never a 200 for an unacknowledged event. What was handed to
// the producer before the deadline may still land on the topic, as
// docs/webhook-ingest.md says; nothing else does.
func TestSlowBrokerTimesOut(t *testing.T) {
	cfg := defaultConfig(testenv.Topic(t))
	cfg.PublishTimeout = time.Nanosecond
	s := startService(t, []string{testenv.Broker(t)}, cfg)
	tpls := loadgen.Shapes()
	sent, ok200, timedOut := map[string]bool{}, map[string]bool{}, 0
	for i := range 20 {
		body, eventID, _ := tpls[i%len(tpls)].Vary(i)
		sent[eventID] = true
		switch status, code := s.post(t, Path, body, stripeevent.Sign(body, time.Now(), secretOld)); {
		case status == http.StatusServiceUnavailable && code == "broker_timeout":
			timedOut++
		case status == http.StatusOK: // an acknowledgement faster than the scheduler: allowed, and must be true
			ok200[eventID] = true
		default:
			t.Fatalf("%s: %d %s, want 503 broker_timeout", eventID, status, code)
		}
	}
	if timedOut == 0 {
		t.Fatal("no request timed out with a 1 ns publish timeout")
	}
	if got := s.count("broker_timeout"); got != timedOut {
		t.Errorf("broker_timeout counter %d, want %d", got, timedOut)
	}
	onTopic := map[string]bool{}
	for _, m := range s.topicMessages(t) {
		onTopic[header(m, kafka.HeaderEventID)] = true
	}
	for id := range ok200 {
		if !onTopic[id] {
			t.Errorf("%s got 200 and is not on the topic", id)
		}
	}
	for id := range onTopic {
		if !sent[id] {
			t.Errorf("%s on the topic was never sent", id)
		}
	}
	t.Logf("%d timed out, %d accepted; %d events on the topic", timedOut, len(ok200), len(onTopic))
}
