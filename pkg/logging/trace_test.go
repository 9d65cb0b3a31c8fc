package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestLinesLoggedInASpanCarryItsTraceID(t *testing.T) {
	var out bytes.Buffer
	logger, err := New(Config{Level: "info", Format: "json"}, "test", &out)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5}, TraceFlags: trace.FlagsSampled,
	})
	logger.With("component", "x").InfoContext(trace.ContextWithSpanContext(context.Background(), sc), "in a span")
	logger.InfoContext(context.Background(), "no span")
	dec := json.NewDecoder(&out)
	var in, outside map[string]any
	if err := dec.Decode(&in); err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(&outside); err != nil {
		t.Fatal(err)
	}
	if in["trace_id"] != sc.TraceID().String() || in["span_id"] != sc.SpanID().String() {
		t.Errorf("line in a span: %v, want trace_id %s and span_id %s", in, sc.TraceID(), sc.SpanID())
	}
	if _, ok := outside["trace_id"]; ok {
		t.Errorf("line without a span has a trace_id: %v", outside)
	}
}
