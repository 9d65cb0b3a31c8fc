// Package writer is event-writer's Kafka port: turn each message into a
// stripe_events row, and send what is not an event to the poison topic.
package writer

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// Store persists events; an event already stored is skipped.
type Store interface {
	InsertEvents(ctx context.Context, events []pgstore.Event) (inserted int, err error)
}

// Publisher sends poison messages on.
type Publisher interface {
	Publish(topic string, msgs ...*message.Message) error
}

// HeaderPoisonReason says why a message went to the poison topic.
const HeaderPoisonReason = "poison_reason"

// Writer handles messages of the events topic.
type Writer struct {
	store       Store
	poison      Publisher
	poisonTopic string
	logger      *slog.Logger
}

// New builds a Writer.
func New(store Store, poison Publisher, poisonTopic string, logger *slog.Logger) *Writer {
	return &Writer{store: store, poison: poison, poisonTopic: poisonTopic, logger: logger}
}

// Handle stores one message. Returning an error nacks it: the offset is not
// committed and the message comes again.
func (w *Writer) Handle(msg *message.Message) error {
	ev, err := Decode(msg)
	if err != nil {
		return w.sendPoison(msg, err)
	}
	inserted, err := w.store.InsertEvents(msg.Context(), []pgstore.Event{ev})
	if err != nil {
		w.logger.Error("store event", "event_id", ev.ID, "error", err)
		return err
	}
	w.logger.Debug("stored event", "event_id", ev.ID, "event_type", ev.Type, "duplicate", inserted == 0)
	return nil
}

// Decode reads a message of the events topic into a row.
func Decode(msg *message.Message) (pgstore.Event, error) {
	env, err := stripeevent.Parse(msg.Payload)
	if err != nil {
		return pgstore.Event{}, err
	}
	return pgstore.Event{
		Envelope:   env,
		ReceivedAt: stripeevent.ReceivedAt(msg.Metadata),
		Payload:    json.RawMessage(msg.Payload),
	}, nil
}

func (w *Writer) sendPoison(msg *message.Message, reason error) error {
	p := message.NewMessage(watermill.NewUUID(), msg.Payload)
	for k, v := range msg.Metadata {
		p.Metadata.Set(k, v)
	}
	p.Metadata.Set(HeaderPoisonReason, reason.Error())
	if err := w.poison.Publish(w.poisonTopic, p); err != nil {
		return fmt.Errorf("publish to poison topic: %w", err)
	}
	w.logger.Warn("poison message set aside", "topic", w.poisonTopic, "reason", reason.Error())
	return nil
}
