// Package feed is the notifier's Kafka port: every instance reads every
// partition of the events topic (no shared consumer group) and hands each
// event to the hub.
package feed

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync/atomic"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// Subscriber is the part of a watermill subscriber the feed needs.
type Subscriber interface {
	Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error)
}

// Feed moves events from the topic to the hub.
type Feed struct {
	sub    Subscriber
	topic  string
	hub    *hub.Hub
	logger *slog.Logger
	ready  atomic.Bool
}

// New builds a Feed.
func New(sub Subscriber, topic string, h *hub.Hub, logger *slog.Logger) *Feed {
	return &Feed{sub: sub, topic: topic, hub: h, logger: logger}
}

// Ready reports whether the feed has its place on every partition: events
// published after it is ready reach the hub.
func (f *Feed) Ready(context.Context) error {
	if !f.ready.Load() {
		return errors.New("not yet consuming the events topic")
	}
	return nil
}

// Run dispatches the topic's events to the hub until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	msgs, err := f.sub.Subscribe(ctx, f.topic)
	if err != nil {
		return err
	}
	f.ready.Store(true)
	defer f.ready.Store(false)
	for msg := range msgs {
		ev, err := Decode(msg)
		msg.Ack()
		if err != nil {
			f.logger.Warn("skipping message that is not an event", "error", err)
			continue
		}
		f.hub.Dispatch(ev)
	}
	return nil
}

// Decode reads a message of the events topic.
func Decode(msg *message.Message) (*hub.Event, error) {
	env, err := stripeevent.Parse(msg.Payload)
	if err != nil {
		return nil, err
	}
	return &hub.Event{Envelope: env, Headers: msg.Metadata, Raw: json.RawMessage(msg.Payload)}, nil
}
