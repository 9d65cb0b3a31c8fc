package kafka

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/pkg/tracing"
)

// Kafka header names of an event (docs/design.md, "Kafka contract"). Besides
// these, watermill's marshaler adds its message UUID (wmkafka.UUIDHeaderKey).
const (
	HeaderEventID    = "event_id"
	HeaderEventType  = "event_type"
	HeaderObjectID   = "object_id"
	HeaderObjectType = "object_type"
	HeaderRelatedIDs = "related_ids"
	HeaderLivemode   = "livemode"
	HeaderReceivedAt = "received_at"
)

// EventHeaders is the metadata published beside an event's raw body.
func EventHeaders(env stripeevent.Envelope, receivedAt time.Time) map[string]string {
	return map[string]string{
		HeaderEventID:    env.ID,
		HeaderEventType:  env.Type,
		HeaderObjectID:   env.ObjectID,
		HeaderObjectType: env.ObjectType,
		HeaderRelatedIDs: strings.Join(env.RelatedIDs, ","),
		HeaderLivemode:   strconv.FormatBool(env.Livemode),
		HeaderReceivedAt: receivedAt.UTC().Format(time.RFC3339Nano),
	}
}

// NewEventMessage is the watermill message of an event: the raw body as
// Stripe sent it, byte for byte, and the event's headers. Published through
// Marshaler, its key is the event's object id.
func NewEventMessage(body []byte, env stripeevent.Envelope, receivedAt time.Time) *message.Message {
	msg := message.NewMessage(watermill.NewUUID(), body)
	for k, v := range EventHeaders(env, receivedAt) {
		msg.Metadata.Set(k, v)
	}
	return msg
}

// ReceivedAt reads the received_at header; zero when absent or malformed.
func ReceivedAt(md message.Metadata) time.Time {
	t, err := time.Parse(time.RFC3339Nano, md.Get(HeaderReceivedAt))
	if err != nil {
		return time.Time{}
	}
	return t
}

// Event is a message of the events topic, decoded.
type Event struct {
	stripeevent.Envelope
	Body       []byte            // the raw body, as Stripe sent it
	Headers    map[string]string // the Kafka headers but watermill's UUID and the trace context
	ReceivedAt time.Time         // when ingest accepted it; zero if unknown
	Position                     // where it is on the topic; zero outside a subscriber
	// Trace is the span context of its traceparent header (the consumer's
	// span when the subscriber traces); invalid without one.
	Trace trace.SpanContext
}

// Position is where a message is on its topic, and when the broker took it.
type Position struct {
	Partition int32
	Offset    int64
	Timestamp time.Time
}

// ErrNotAnEvent is wrapped by DecodeEvent's error: the body is not a Stripe
// event, and never will be. Wrapping stripeevent.ErrInvalid.
var ErrNotAnEvent = stripeevent.ErrInvalid

// DecodeEvent reads a message of the events topic as the Subscriber hands it
// on: body, headers, the position in its context and the trace in its
// headers.
func DecodeEvent(msg *message.Message) (Event, error) {
	env, err := stripeevent.Parse(msg.Payload)
	if err != nil {
		return Event{}, fmt.Errorf("message %s: %w", msg.UUID, err)
	}
	headers := make(map[string]string, len(msg.Metadata))
	for k, v := range msg.Metadata {
		if k != wmkafka.UUIDHeaderKey && !tracing.IsHeader(k) {
			headers[k] = v
		}
	}
	return Event{
		Envelope:   env,
		Body:       msg.Payload,
		Headers:    headers,
		ReceivedAt: ReceivedAt(msg.Metadata),
		Position:   PositionOf(msg.Context()),
		Trace:      tracing.SpanContextOf(msg.Metadata),
	}, nil
}

// PositionOf is the position the Subscriber put in a message's context.
func PositionOf(ctx context.Context) Position {
	var p Position
	p.Partition, _ = wmkafka.MessagePartitionFromCtx(ctx)
	p.Offset, _ = wmkafka.MessagePartitionOffsetFromCtx(ctx)
	p.Timestamp, _ = wmkafka.MessageTimestampFromCtx(ctx)
	return p
}

// Marshaler is the wire format of the events topic and its poison topic:
// watermill-kafka's, keyed by the event's object id, so every event of one
// transaction lands on one partition in the order it was accepted. A message
// that came from Kafka (set aside as poison, or sent back from there) keeps
// the key it came with.
var Marshaler = wmkafka.NewWithPartitioningMarshaler(key)

func key(_ string, msg *message.Message) (string, error) {
	if k, ok := wmkafka.MessageKeyFromCtx(msg.Context()); ok && len(k) > 0 {
		return string(k), nil
	}
	// Empty for a message that is not an event (no object id): it goes to
	// whichever partition the empty key hashes to.
	return msg.Metadata.Get(HeaderObjectID), nil
}
