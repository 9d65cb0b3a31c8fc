package kafka_test

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/tracing"
	"github.com/stripeline/stripeline/tools/testenv"
)

// With tracing on, the trace a publisher's message carries in its
// traceparent header goes on through the producer's span and the
// consumer's; the handler finds the consumer's span in the headers, and
// DecodeEvent keeps the trace out of Headers.
func TestTraceTravelsInTheHeaders(t *testing.T) {
	brokers, topic := []string{testenv.Broker(t)}, testenv.Topic(t)
	exp := tracetest.NewInMemoryExporter()
	tr := tracing.WithExporter(exp, "test")

	ctx, parent := tr.Tracer("test").Start(context.Background(), "webhook")
	msg := event(t, 1)
	tracing.Inject(ctx, msg.Metadata)
	parent.End()
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "test", Tracing: tr.Provider()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(topic, msg); err != nil {
		t.Fatal(err)
	}

	sub, err := kafka.NewSubscriber(kafka.SubscriberConfig{
		Brokers: brokers, ClientID: "test", Group: kafka.NewGroupName("trace-test"),
		Initial: sarama.OffsetOldest, Tracing: tr.Provider(),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs, err := sub.Subscribe(sctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	var got kafka.Event
	select {
	case m := <-msgs:
		m.Ack()
		if got, err = kafka.DecodeEvent(m); err != nil {
			t.Fatal(err)
		}
	case <-sctx.Done():
		t.Fatal("no message within 30 s")
	}

	want := parent.SpanContext().TraceID()
	if got.Trace.TraceID() != want {
		t.Fatalf("consumed message's trace %s, want the publisher's %s", got.Trace.TraceID(), want)
	}
	for _, h := range tracing.Headers {
		if _, ok := got.Headers[h]; ok {
			t.Errorf("DecodeEvent's Headers hold the trace header %s: %v", h, got.Headers)
		}
	}
	// The producer's span is the webhook's child; the consumer's, the
	// producer's; the message carries the consumer's.
	var spans = map[trace.SpanKind]tracetest.SpanStub{}
	testenv.Eventually(t, 10*time.Second, func() error {
		for _, s := range exp.GetSpans() {
			spans[s.SpanKind] = s
		}
		if len(spans) < 3 {
			return errSpans(exp.GetSpans())
		}
		return nil
	})
	producer, consumer := spans[trace.SpanKindProducer], spans[trace.SpanKindConsumer]
	if producer.Parent.SpanID() != parent.SpanContext().SpanID() || producer.SpanContext.TraceID() != want {
		t.Errorf("producer span %s parent %s, want the webhook's span %s", producer.Name, producer.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	if consumer.Parent.SpanID() != producer.SpanContext.SpanID() || consumer.SpanContext.TraceID() != want {
		t.Errorf("consumer span %s parent %s, want the producer's %s", consumer.Name, consumer.Parent.SpanID(), producer.SpanContext.SpanID())
	}
	if got.Trace.SpanID() != consumer.SpanContext.SpanID() {
		t.Errorf("message carries span %s, want the consumer's %s", got.Trace.SpanID(), consumer.SpanContext.SpanID())
	}
}

type errSpans tracetest.SpanStubs

func (e errSpans) Error() string {
	s := "spans so far:"
	for _, sp := range e {
		s += " " + sp.Name + "(" + sp.SpanKind.String() + ")"
	}
	return s
}
