package tracing

import (
	"context"
	"net/http"
	"testing"
	"time"
)

// Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is installed: no provider, no
// tracer, handlers and transports as they were, no trace header written.
func TestOffInstallsNothing(t *testing.T) {
	tr, err := New(context.Background(), Config{}, "test")
	if err != nil || tr != nil {
		t.Fatalf("New without an endpoint = %v, %v; want nil, nil", tr, err)
	}
	if tr.Enabled() || tr.Provider() != nil || tr.Tracer("x") != nil {
		t.Error("tracing off still offers a provider or a tracer")
	}
	h := &struct{ http.Handler }{http.NotFoundHandler()}
	if tr.Handler(h, "op") != http.Handler(h) {
		t.Error("Handler with tracing off is not the handler given")
	}
	if tr.Transport(nil) != http.DefaultTransport {
		t.Error("Transport with tracing off is not the transport given (the default one)")
	}
	headers := map[string]string{}
	Inject(context.Background(), headers)
	if len(headers) != 0 {
		t.Errorf("Inject without a span wrote %v", headers)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// With an endpoint, spans are batched for it; nothing is sent until one ends.
func TestOnWithAnEndpoint(t *testing.T) {
	tr, err := New(context.Background(), Config{Endpoint: "http://127.0.0.1:1/"}, "test")
	if err != nil || !tr.Enabled() || tr.Tracer("x") == nil {
		t.Fatalf("New with an endpoint = %v, %v; want tracing on", tr, err)
	}
	defer func() {
		// Nothing listens there: the export fails, the stop does not wait long.
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_ = tr.Shutdown(ctx)
	}()
	ctx, span := tr.Tracer("x").Start(context.Background(), "s")
	headers := map[string]string{}
	Inject(ctx, headers)
	span.End()
	if got := SpanContextOf(headers); got.SpanID() != span.SpanContext().SpanID() {
		t.Errorf("traceparent %q does not carry the span %s", headers["traceparent"], span.SpanContext().SpanID())
	}
	if !IsHeader("traceparent") || IsHeader("event_id") {
		t.Error("IsHeader does not tell the trace headers apart")
	}
}
