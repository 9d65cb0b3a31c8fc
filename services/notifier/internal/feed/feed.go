// Package feed is the notifier's Kafka port. Every instance must see every
// event for its own clients, so each instance reads the whole events topic
// through a watermill Subscriber in a consumer group of its own. Before the
// Subscriber joins, the group's offsets are set to the first offset of the
// recent window, found by time. The feed reports ready once it has read up to
// where the topic ended when it started: the window is rebuilt before a load
// balancer sends it clients. docs/notifier.md ("Reading the topic") explains
// why no event of the window or after it is missed or delivered twice.
package feed

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/service"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
)

// GroupPrefix starts the name of every notifier instance's consumer group.
const GroupPrefix = "stripeline-notifier-"

const clientID = "stripeline-notifier"

// Bounds of the feed's waits.
const (
	// staleMargin is added to the window to tell a group a crashed instance
	// left behind from one an instance is still starting with (see sweep).
	staleMargin = 15 * time.Minute
	// deleteGroupFor is how long a stopping instance tries to delete its
	// group before leaving it to sweep and Kafka's expiry.
	deleteGroupFor = 5 * time.Second
	// A subscription that ended is started again after a backoff between
	// these bounds, doubling while it keeps ending within a minute.
	minResubscribe = 200 * time.Millisecond
	maxResubscribe = 5 * time.Second
)

// Publisher is where events go: the hub.
type Publisher interface {
	// Begin is told the offset each partition is read from: the window's
	// start, before which a resume cannot be exact.
	Begin(start map[int32]int64)
	Publish(ev *hub.Event) bool
}

// Config is the feed's settings.
type Config struct {
	Kafka  kafka.Config
	Window time.Duration // how far back to read at start
	// Tracing, when set, traces the consumer (kafka.SubscriberConfig.Tracing),
	// so each event comes with its consumer span as its trace.
	Tracing trace.TracerProvider
}

// Feed moves events from the topic to the hub.
type Feed struct {
	cfg      Config
	hub      Publisher
	logger   *slog.Logger
	group    string
	notReady atomic.Pointer[error] // why the feed is not ready; nil when it is

	// newSubscriber makes the Subscriber of one subscription; tests wrap it.
	newSubscriber func(kafka.SubscriberConfig) (message.Subscriber, error)

	// Used by Run's goroutine only.
	next    map[int32]int64 // per partition: the offset after the last one handed to the hub
	behind  map[int32]int64 // per partition not caught up yet: the end offset to reach
	rebuilt bool            // the window was rebuilt once: later catch-ups are resumptions
}

// New builds a Feed, not ready until Run has rebuilt the window.
func New(cfg Config, h Publisher, logger *slog.Logger) *Feed {
	f := &Feed{cfg: cfg, hub: h, logger: logger, group: groupName(), next: map[int32]int64{}}
	f.newSubscriber = func(sc kafka.SubscriberConfig) (message.Subscriber, error) {
		return kafka.NewSubscriber(sc, watermill.NewSlogLogger(logger))
	}
	f.setNotReady(errors.New("rebuilding the recent window from the events topic"))
	return f
}

// groupName is a group name no other instance uses:
// stripeline-notifier-<hostname>-<12 random hex digits>.
func groupName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown"
	}
	b := make([]byte, 6)
	rand.Read(b) // never fails (crypto/rand)
	return GroupPrefix + host + "-" + hex.EncodeToString(b)
}

// Group is the consumer group the feed reads with, deleted when Run ends.
func (f *Feed) Group() string { return f.group }

// Ready reports whether the window is rebuilt and live events flow.
func (f *Feed) Ready(context.Context) error {
	if err := f.notReady.Load(); err != nil {
		return *err
	}
	return nil
}

func (f *Feed) setNotReady(err error) { f.notReady.Store(&err) }

func (f *Feed) markReady() {
	f.rebuilt = true
	if f.notReady.Swap(nil) != nil {
		f.logger.Info("read up to the end of the events topic; serving live events", "group", f.group)
	}
}

// Run reads the topic into the hub until ctx ends. It waits for the broker
// and the topic when they are not there yet, subscribes again when a
// subscription ends, and deletes its group when it returns.
func (f *Feed) Run(ctx context.Context) error {
	defer f.setNotReady(errors.New("feed stopped"))
	topic := f.cfg.Kafka.Topic
	admin, err := retry(ctx, f.logger, "connect to kafka", func() (*kafka.Admin, error) {
		return kafka.NewAdmin(f.cfg.Kafka.Brokers, clientID)
	})
	if err != nil {
		return nil // ctx ended
	}
	defer admin.Close()
	// Deferred after admin.Close, so it runs before it, and after the last
	// subscription's Subscriber closed (session closes it before returning).
	defer f.deleteGroup(admin)
	f.sweep(admin)

	start, err := retry(ctx, f.logger, "find the window's start", func() (map[int32]int64, error) {
		return admin.OffsetsAt(topic, time.Now().Add(-f.cfg.Window))
	})
	if err != nil {
		return nil
	}
	f.next = start
	f.hub.Begin(start)
	backoff := minResubscribe
	for {
		began := time.Now()
		err := f.session(ctx, admin)
		if ctx.Err() != nil {
			return nil
		}
		f.setNotReady(fmt.Errorf("kafka subscription ended, subscribing again: %w", err))
		if time.Since(began) > time.Minute {
			backoff = minResubscribe
		}
		f.logger.Warn("kafka subscription ended; subscribing again after the last event delivered",
			"group", f.group, "error", err, "retry_in", backoff.String())
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, maxResubscribe)
	}
}

// session reads the topic through one Subscriber, starting each partition
// right after the last offset handed to the hub (at first: the window's
// start), until ctx ends or the subscription does. It returns why it ended.
func (f *Feed) session(ctx context.Context, admin *kafka.Admin) error {
	topic := f.cfg.Kafka.Topic
	ends, err := admin.EndOffsets(topic)
	if err != nil {
		return err
	}
	// The group has no member now: its committed offsets are where the
	// Subscriber will start.
	if err := admin.SetGroupOffsets(f.group, topic, f.next); err != nil {
		return err
	}
	sub, err := f.newSubscriber(kafka.SubscriberConfig{Brokers: f.cfg.Kafka.Brokers, ClientID: clientID, Group: f.group, Tracing: f.cfg.Tracing})
	if err != nil {
		return err
	}
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, topic)
	if err != nil {
		return err
	}
	f.logger.Info("reading the events topic", "group", f.group, "window", f.cfg.Window.String(),
		"partitions", len(ends), "to_catch_up", f.aim(ends))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-msgs:
			if !ok {
				return errors.New("the subscriber closed its message channel")
			}
			f.handle(msg)
		}
	}
}

// aim makes the end offsets the feed must reach before it is ready, and
// returns how many messages that is. Partitions the feed does not know yet
// (added since it started) are read from their oldest offset, not waited for.
func (f *Feed) aim(ends map[int32]int64) int64 {
	f.behind = map[int32]int64{}
	var n int64
	for p, next := range f.next {
		if end := ends[p]; next < end {
			f.behind[p] = end
			n += end - next
		}
	}
	switch {
	case len(f.behind) == 0:
		f.markReady()
	case f.rebuilt:
		f.setNotReady(fmt.Errorf("catching up with the events topic after subscribing again: %d messages to read", n))
	default:
		f.setNotReady(fmt.Errorf("rebuilding the recent window from the events topic: %d messages to read", n))
	}
	return n
}

// handle hands a message to the hub unless its position was handed on
// already, then acknowledges it.
func (f *Feed) handle(msg *message.Message) {
	defer msg.Ack()
	ev, err := kafka.DecodeEvent(msg)
	if err != nil {
		pos := kafka.PositionOf(msg.Context())
		if !f.delivered(pos) {
			f.logger.Warn("skipping message that is not an event", "partition", pos.Partition, "offset", pos.Offset, "error", err)
			f.advance(pos) // it counts towards being caught up
		}
		return
	}
	f.deliver(ev)
}

// deliver hands ev to the hub unless its partition already had this offset
// or a later one handed on: Sarama starts a partition again from its last
// commit when a session restarts. It reports whether ev was handed on.
func (f *Feed) deliver(ev kafka.Event) bool {
	if f.delivered(ev.Position) {
		return false
	}
	f.hub.Publish(HubEvent(ev))
	f.advance(ev.Position)
	return true
}

// delivered reports whether pos is before the next offset of its partition.
func (f *Feed) delivered(pos kafka.Position) bool {
	next, ok := f.next[pos.Partition]
	return ok && pos.Offset < next
}

// advance records pos as handed on, and marks the feed ready when that was
// the last offset it was waiting for.
func (f *Feed) advance(pos kafka.Position) {
	f.next[pos.Partition] = pos.Offset + 1
	if end, ok := f.behind[pos.Partition]; ok && pos.Offset+1 >= end {
		delete(f.behind, pos.Partition)
		if len(f.behind) == 0 {
			f.markReady()
		}
	}
}

// HubEvent is the hub's form of an event read from the topic; its place in
// the window is the broker's timestamp (now, when the message has none).
func HubEvent(ev kafka.Event) *hub.Event {
	at := ev.Timestamp
	if at.IsZero() || at.Unix() <= 0 {
		at = time.Now()
	}
	e := hub.NewEvent(ev.Envelope, ev.Headers, ev.Body, at)
	e.Trace = ev.Trace
	e.Partition, e.Offset = ev.Position.Partition, ev.Position.Offset
	return e
}

// deleteGroup removes the feed's group once its Subscriber left it. It
// tries for a few seconds; a group it could not remove is swept by a later
// instance or expired by Kafka (docs/deploy.md).
func (f *Feed) deleteGroup(admin *kafka.Admin) {
	deadline := time.Now().Add(deleteGroupFor)
	for {
		err := admin.DeleteGroup(f.group)
		if err == nil {
			f.logger.Info("deleted consumer group", "group", f.group)
			return
		}
		if time.Now().After(deadline) {
			f.logger.Warn("could not delete consumer group; left for a later instance or Kafka's offsets retention", "group", f.group, "error", err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// sweep deletes the groups crashed instances left: named with GroupPrefix,
// without members, and behind on some partition of the topic by a message
// the broker took more than window + staleMargin ago. A running instance
// reads to the end within moments, and a starting one commits no earlier
// than its window, so neither is behind by that much; nobody reads with such
// a group any more. Best effort: failures are logged, not returned.
func (f *Feed) sweep(admin *kafka.Admin) {
	topic := f.cfg.Kafka.Topic
	groups, err := admin.Groups()
	if err != nil {
		f.logger.Warn("consumer group sweep: list groups", "error", err)
		return
	}
	var candidates []string
	for _, g := range groups {
		if strings.HasPrefix(g, GroupPrefix) && g != f.group {
			candidates = append(candidates, g)
		}
	}
	if len(candidates) == 0 {
		return
	}
	states, err := admin.DescribeGroups(candidates...)
	if err != nil {
		f.logger.Warn("consumer group sweep: describe groups", "error", err)
		return
	}
	staleBefore, err := admin.OffsetsAt(topic, time.Now().Add(-f.cfg.Window-staleMargin))
	if err != nil {
		f.logger.Warn("consumer group sweep: offsets by time", "error", err)
		return
	}
	for _, g := range candidates {
		if st, ok := states[g]; !ok || !st.Empty() {
			continue
		}
		committed, err := admin.GroupOffsets(g, topic)
		if err != nil {
			f.logger.Warn("consumer group sweep: group offsets", "group", g, "error", err)
			continue
		}
		if !stale(committed, staleBefore) {
			continue
		}
		if err := admin.DeleteGroup(g); err != nil {
			f.logger.Warn("consumer group sweep: delete", "group", g, "error", err)
			continue
		}
		f.logger.Info("deleted a consumer group a stopped instance left", "group", g)
	}
}

// stale reports whether a group committed, on some partition, an offset
// below staleBefore: the first offset the broker took after the stale time.
func stale(committed, staleBefore map[int32]int64) bool {
	for p, c := range committed {
		if b, ok := staleBefore[p]; ok && c < b {
			return true
		}
	}
	return false
}

// retry calls try until it succeeds or ctx ends (service.WaitFor: backoff,
// the wait logged once a minute).
func retry[T any](ctx context.Context, logger *slog.Logger, what string, try func() (T, error)) (T, error) {
	var v T
	err := service.WaitFor(ctx, logger, "kafka: "+what, func(context.Context) (err error) {
		v, err = try()
		return err
	})
	return v, err
}
