package ws

import (
	"fmt"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/tools/testenv"
)

// Each delivery of a traced event to a subscription is a span of its
// trace, ended once the frame is written; an event without a trace, or a
// server without a Tracer, records none.
func TestDeliveryIsASpanPerSubscription(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	f := start(t, Config{RequireToken: true, Tracer: tracing.WithExporter(exp, "notifier").Tracer("notifier")})
	a, b := f.dial(t, nil), f.dial(t, nil)
	for _, c := range []*websocket.Conn{a, b} {
		subscribe(t, c, map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = 'ch_t'", "token": token("ch_t")})
	}
	const consumer = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	traced := event("evt_t", "charge.succeeded", "ch_t")
	traced.Trace = tracing.SpanContextOf(map[string]string{"traceparent": consumer})
	f.hub.Publish(traced)
	f.hub.Publish(event("evt_untraced", "charge.updated", "ch_t"))
	for _, c := range []*websocket.Conn{a, b} {
		for range 2 {
			if m := read(t, c); m.Type != "message" {
				t.Fatalf("frame %+v, want a message", m)
			}
		}
	}
	parent := traced.Trace
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := len(exp.GetSpans()); n != 2 {
			return fmt.Errorf("%d spans, want 2: one per connection", n)
		}
		return nil
	})
	for _, s := range exp.GetSpans() {
		if s.Name != "websocket deliver" || s.SpanContext.TraceID() != parent.TraceID() || s.Parent.SpanID() != parent.SpanID() {
			t.Errorf("span %q in %s under %s, want websocket deliver in %s under %s", s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(), parent.TraceID(), parent.SpanID())
		}
		if s.Status.Code != codes.Unset {
			t.Errorf("span status %v, want unset (written)", s.Status)
		}
	}
	// Counted once written: the client may read a frame a moment before.
	m := f.srv.cfg.Metrics
	testenv.Eventually(t, 5*time.Second, func() error {
		if n := testutil.ToFloat64(m.Deliveries); n != 4 {
			return fmt.Errorf("notifier_deliveries_total = %v, want 4 (2 events × 2 connections)", n)
		}
		return nil
	})
}
