package ingest

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/tracing"
)

type capturePublisher struct{ msgs []*message.Message }

func (p *capturePublisher) Publish(_ string, msgs ...*message.Message) error {
	p.msgs = append(p.msgs, msgs...)
	return nil
}

// tracedPost serves one signed webhook through the handler wrapped as the
// service wraps it, with the caller's traceparent, and returns what was
// published.
func tracedPost(t *testing.T, tr *tracing.Tracing, body []byte, traceparent string) *message.Message {
	t.Helper()
	metrics, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	pub := &capturePublisher{}
	h := New(defaultConfig("events"), pub, metrics, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(Routes(tr.Handler(h, "webhook"), http.NotFoundHandler()))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(body))
	req.Header.Set("Stripe-Signature", stripeevent.Sign(body, time.Now(), secretNew))
	req.Header.Set("traceparent", traceparent)
	if status, code := do(t, req); status != http.StatusOK {
		t.Fatalf("answer %d %s, want 200", status, code)
	}
	if len(pub.msgs) != 1 {
		t.Fatalf("%d messages published, want 1", len(pub.msgs))
	}
	return pub.msgs[0]
}

const (
	callerTrace  = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	apiCallTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
)

// A webhook continues the caller's trace, puts its span in the message's
// traceparent header, and links to the api's call left in the object's
// metadata.
func TestWebhookSpanContinuesTheCallersTraceIntoTheMessage(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	body := []byte(`{"id":"evt_t1","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_t1","object":"charge","metadata":{"order":"7","` +
		tracing.PaymentTraceKey + `":"` + apiCallTrace + `"}}}}`)
	msg := tracedPost(t, tracing.WithExporter(exp, "webhook-ingest"), body, callerTrace)

	caller := tracing.SpanContextOf(map[string]string{"traceparent": callerTrace})
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].SpanKind != trace.SpanKindServer {
		t.Fatalf("spans %v, want one server span", spans)
	}
	s := spans[0]
	if s.SpanContext.TraceID() != caller.TraceID() || s.Parent.SpanID() != caller.SpanID() {
		t.Errorf("webhook span in trace %s under %s, want the caller's %s under %s", s.SpanContext.TraceID(), s.Parent.SpanID(), caller.TraceID(), caller.SpanID())
	}
	if got := tracing.SpanContextOf(msg.Metadata); got.SpanID() != s.SpanContext.SpanID() || got.TraceID() != caller.TraceID() {
		t.Errorf("message traceparent %q, want the webhook span %s of trace %s", msg.Metadata.Get("traceparent"), s.SpanContext.SpanID(), caller.TraceID())
	}
	api := tracing.SpanContextOf(map[string]string{"traceparent": apiCallTrace})
	if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID() != api.TraceID() {
		t.Errorf("links %v, want one to the api's trace %s", s.Links, api.TraceID())
	}
	attrs := map[string]string{}
	for _, kv := range s.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["stripe.event_id"] != "evt_t1" || attrs["stripe.object_id"] != "ch_t1" {
		t.Errorf("span attributes %v, want stripe.event_id evt_t1 and stripe.object_id ch_t1", attrs)
	}
}

// With tracing off no trace header is published, even when the caller
// sent one: the Kafka contract is then as without tracing.
func TestNoTraceHeaderWhenTracingIsOff(t *testing.T) {
	body := []byte(`{"id":"evt_t2","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_t2","object":"charge"}}}`)
	msg := tracedPost(t, nil, body, callerTrace)
	for _, h := range tracing.Headers {
		if v, ok := msg.Metadata[h]; ok {
			t.Errorf("header %s = %q published with tracing off", h, v)
		}
	}
}
