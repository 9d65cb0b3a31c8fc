package kafka

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
)

// Span is a stretch of a topic read once, from Start up to End (exclusive)
// in each partition, by a consumer group of its own: a replay of the events
// topic, a redrive of the poison topic.
type Span struct {
	Topic      string
	Start, End map[int32]int64
	// To, when set, also ends a partition at its first message whose broker
	// timestamp is after To.
	To time.Time
}

// PlanSpan is the span of topic from the first message at or after from
// (the oldest kept when from is zero) to the end offsets now, or to the
// first message after to when to is set.
func (a *Admin) PlanSpan(topic string, from, to time.Time) (Span, error) {
	end, err := a.EndOffsets(topic)
	if err != nil {
		return Span{}, err
	}
	start, err := a.OffsetsAt(topic, from)
	if err != nil {
		return Span{}, err
	}
	for p, s := range start {
		start[p] = min(s, end[p])
	}
	return Span{Topic: topic, Start: start, End: end, To: to}, nil
}

// Total is how many offsets the span covers: an upper bound of its messages
// when To is set.
func (s Span) Total() int64 {
	var n int64
	for p, end := range s.End {
		n += max(end-s.Start[p], 0)
	}
	return n
}

// ReadSpan hands every message of span to handler, through the middleware,
// and returns once each partition reached its end. It reads with a
// watermill Subscriber of cfg.Group, a group that must be new: its offsets
// are set to span.Start first, and it is deleted at the end.
//
// Messages are handled as the Subscriber hands them on, one at a time per
// partition, so a handler that fails (and is retried by middleware, or
// nacked) holds its partition back, and nothing past it is handled first.
func ReadSpan(ctx context.Context, cfg SubscriberConfig, span Span, handler message.NoPublishHandlerFunc,
	logger watermill.LoggerAdapter, middleware ...message.HandlerMiddleware) error {
	remaining := map[int32]bool{}
	for p, end := range span.End {
		if span.Start[p] < end {
			remaining[p] = true
		}
	}
	if len(remaining) == 0 {
		return nil
	}
	admin, err := NewAdmin(cfg.Brokers, cfg.ClientID)
	if err != nil {
		return err
	}
	defer admin.Close()
	if err := admin.SetGroupOffsets(cfg.Group, span.Topic, span.Start); err != nil {
		return fmt.Errorf("start group %s at the span: %w", cfg.Group, err)
	}
	defer deleteGroupSoon(admin, cfg.Group)

	sub, err := NewSubscriber(cfg, logger)
	if err != nil {
		return err
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, logger)
	if err != nil {
		return err
	}
	rctx, finished := context.WithCancel(ctx)
	defer finished()
	var mu sync.Mutex
	reached := func(p int32) {
		mu.Lock()
		defer mu.Unlock()
		delete(remaining, p)
		if len(remaining) == 0 {
			finished()
		}
	}
	// Outermost, so it sees what the middleware made of each message: a
	// partition is through once its last message is acked.
	router.AddMiddleware(func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			pos := PositionOf(msg.Context())
			end := span.End[pos.Partition]
			if pos.Offset >= end || (!span.To.IsZero() && pos.Timestamp.After(span.To)) {
				reached(pos.Partition)
				return nil, nil
			}
			out, err := h(msg)
			if err == nil && pos.Offset+1 >= end {
				reached(pos.Partition)
			}
			return out, err
		}
	})
	router.AddNoPublisherHandler(cfg.Group, span.Topic, sub, handler).AddMiddleware(middleware...)
	if err := router.Run(rctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

// deleteGroupSoon deletes a group whose last member just left; the broker
// may take a moment to see it empty. A group it cannot delete expires like
// any idle one (offsets.retention.minutes).
func deleteGroupSoon(admin *Admin, group string) {
	deadline := time.Now().Add(5 * time.Second)
	for admin.DeleteGroup(group) != nil && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
	}
}
