package writer

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/tracing"
)

type memStore struct{ rows []pgstore.Event }

func (s *memStore) InsertEvents(_ context.Context, events []pgstore.Event) (pgstore.Stored, error) {
	s.rows = append(s.rows, events...)
	return pgstore.Stored{Inserted: len(events)}, nil
}

// An event's insert is a span of the trace its message carries, a child of
// the span in its traceparent header (the consumer's).
func TestInsertIsASpanOfTheMessagesTrace(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	store := &memStore{}
	w := New(Config{Tracer: tracing.WithExporter(exp, "event-writer").Tracer("event-writer")}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go w.Run(ctx)

	body := []byte(`{"id":"evt_w1","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_w1","object":"charge"}}}`)
	env, err := stripeevent.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	msg := kafka.NewEventMessage(body, env, time.Now())
	const consumer = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	msg.Metadata.Set("traceparent", consumer)
	msg.SetContext(ctx)
	if err := w.Handle(msg); err != nil {
		t.Fatal(err)
	}
	if len(store.rows) != 1 {
		t.Fatalf("%d rows stored, want 1", len(store.rows))
	}
	parent := tracing.SpanContextOf(map[string]string{"traceparent": consumer})
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want the insert's", len(spans))
	}
	s := spans[0]
	if s.Name != "stripe_events insert" || s.SpanContext.TraceID() != parent.TraceID() || s.Parent.SpanID() != parent.SpanID() {
		t.Errorf("span %q in trace %s under %s, want stripe_events insert in %s under %s",
			s.Name, s.SpanContext.TraceID(), s.Parent.SpanID(), parent.TraceID(), parent.SpanID())
	}
}

// Without a Tracer nothing is recorded, and a message without a trace is
// stored as before.
func TestNoSpanWithoutTracer(t *testing.T) {
	store := &memStore{}
	w := New(Config{}, store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go w.Run(ctx)
	msg := message.NewMessage("u1", []byte(`{"id":"evt_w2","object":"event","type":"charge.succeeded","data":{"object":{"id":"ch_w2"}}}`))
	msg.SetContext(ctx)
	if err := w.Handle(msg); err != nil || len(store.rows) != 1 {
		t.Fatalf("Handle: %v, %d rows; want nil and 1", err, len(store.rows))
	}
}
