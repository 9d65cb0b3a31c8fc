package payments

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// A call to Stripe is a trace of its own: a root span marked with the
// object's id, an HTTP client span under it, and its traceparent in the
// object's metadata for the webhooks to link to.
func TestStripeCallIsATraceOfItsOwn(t *testing.T) {
	var metadata string
	stub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		metadata = r.PostForm.Get("metadata[" + tracing.PaymentTraceKey + "]")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"ch_traced","object":"charge","amount":100}`))
	}))
	defer stub.Close()
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.WithExporter(exp, "api")
	s := New(Config{SecretKey: "sk_test_0123456789abcdefABCDEFGH", APIBase: stub.URL, Currency: "usd",
		TokenKeys: subtoken.Keys{{Secret: []byte("0123456789abcdef0123456789abcdef")}}, TokenTTL: time.Hour,
		Tracer: tr.Tracer("api"), Transport: tr.Transport(nil)})

	// Even inside a caller's span, the call starts a trace of its own.
	ctx, outer := tr.Tracer("test").Start(context.Background(), "request")
	if _, err := s.Charge(ctx, ChargeRequest{Payment: Payment{Amount: 100, Metadata: map[string]string{"order": "7"}}, Token: "tok_visa"}); err != nil {
		t.Fatal(err)
	}
	outer.End()

	var call, client tracetest.SpanStub
	for _, sp := range exp.GetSpans() {
		switch {
		case sp.Name == "stripe charge":
			call = sp
		case sp.SpanKind == trace.SpanKindClient:
			client = sp
		}
	}
	if !call.SpanContext.IsValid() || call.Parent.IsValid() || call.SpanContext.TraceID() == outer.SpanContext().TraceID() {
		t.Fatalf("stripe charge span %+v: want a root span of a trace of its own", call.SpanContext)
	}
	if client.Parent.SpanID() != call.SpanContext.SpanID() {
		t.Errorf("HTTP client span under %s, want under the call's %s", client.Parent.SpanID(), call.SpanContext.SpanID())
	}
	attrs := map[string]string{}
	for _, kv := range call.Attributes {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	if attrs["stripe.object_id"] != "ch_traced" {
		t.Errorf("call span attributes %v, want stripe.object_id ch_traced", attrs)
	}
	if got := tracing.SpanContextOf(map[string]string{"traceparent": metadata}); got.TraceID() != call.SpanContext.TraceID() {
		t.Errorf("metadata %s = %q, want the call's trace %s", tracing.PaymentTraceKey, metadata, call.SpanContext.TraceID())
	}
}
