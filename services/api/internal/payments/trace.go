package payments

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/tracing"
)

// startCall starts the span of one call to Stripe, the root of a trace of
// its own: Stripe carries no trace context into the webhooks the payment
// causes. The object's metadata carries this span's traceparent instead
// (tracing.PaymentTraceKey, set by fields), and webhook-ingest links each
// webhook's trace to it. A no-op span when the Service has no Tracer.
func (s *Service) startCall(ctx context.Context, call string) (context.Context, trace.Span) {
	if s.tracer == nil {
		return ctx, trace.SpanFromContext(context.Background()) // a no-op span
	}
	return s.tracer.Start(ctx, "stripe "+call, trace.WithNewRoot(), trace.WithAttributes(attribute.String("stripe.call", call)))
}

// endCall marks the span with the object's id (the transaction id, which
// the webhooks' spans carry too) or the error, and ends it.
func endCall(span trace.Span, id string, err error) {
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String("stripe.object_id", id))
	}
	span.End()
}

// traceMetadata is the metadata entry that carries ctx's span to the
// webhooks: Stripe sends the object's metadata back in every event of it.
func traceMetadata(ctx context.Context) (key, value string, ok bool) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return "", "", false
	}
	h := map[string]string{}
	tracing.Inject(ctx, h)
	value, ok = h["traceparent"]
	return tracing.PaymentTraceKey, value, ok
}
