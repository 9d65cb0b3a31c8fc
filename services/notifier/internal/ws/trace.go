package ws

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// deliverySpan starts the span of ev's delivery to one subscription of this
// connection, in the trace the event came with: from the hub's hand-over to
// the frame written to the socket (endSpan), or dropped. Nil when the
// server has no Tracer or the event no trace.
func (s *sink) deliverySpan(sub *hub.Subscription, ev *hub.Event) trace.Span {
	tr := s.c.srv.cfg.Tracer
	if tr == nil || !ev.Trace.IsValid() {
		return nil
	}
	_, span := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), ev.Trace), "websocket deliver",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("stripe.event_id", ev.ID),
			attribute.String("stripeline.subscription", sub.ID),
			attribute.String("network.peer.address", s.c.ws.RemoteAddr().String()),
		))
	return span
}

// endSpan ends f's delivery span, if it has one: written when err is nil,
// else failed or dropped for err's reason.
func (f frame) endSpan(err error) {
	if f.span == nil {
		return
	}
	if err != nil {
		f.span.SetStatus(codes.Error, err.Error())
	}
	f.span.End()
}

// dropped ends the delivery spans of frames that will never be written.
func dropped(frames []frame, why error) {
	for _, f := range frames {
		f.endSpan(why)
	}
}
