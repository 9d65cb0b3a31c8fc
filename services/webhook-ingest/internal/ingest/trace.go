package ingest

import (
	"context"
	"encoding/json"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// traceEvent carries the request's trace (the webhook's span, when tracing
// is on) into the message's headers, where the event-writer and the
// notifiers continue it, and marks the span with the event's ids. Stripe
// brings no trace context of the api's call that made the payment, but
// the api leaves one in the object's metadata (tracing.PaymentTraceKey):
// the span links to it.
func traceEvent(ctx context.Context, env stripeevent.Envelope, body []byte, headers map[string]string) {
	tracing.Inject(ctx, headers)
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(
		attribute.String("stripe.event_id", env.ID),
		attribute.String("stripe.event_type", env.Type),
		attribute.String("stripe.object_id", env.ObjectID),
	)
	if sc := paymentTrace(body); sc.IsValid() {
		span.AddLink(trace.Link{SpanContext: sc, Attributes: []attribute.KeyValue{attribute.String("stripeline.link", "api_call")}})
	}
}

// paymentTrace is the api's span context left in data.object.metadata;
// invalid when there is none. The body is decoded a second time for it,
// which only a recorded span pays.
func paymentTrace(body []byte) trace.SpanContext {
	var ev struct {
		Data struct {
			Object struct {
				Metadata map[string]string `json:"metadata"`
			} `json:"object"`
		} `json:"data"`
	}
	if json.Unmarshal(body, &ev) != nil {
		return trace.SpanContext{}
	}
	tp := ev.Data.Object.Metadata[tracing.PaymentTraceKey]
	if tp == "" {
		return trace.SpanContext{}
	}
	return tracing.SpanContextOf(map[string]string{"traceparent": tp})
}
