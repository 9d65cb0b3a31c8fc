// Package backfill recovers events Stripe never delivered: it pages through
// Stripe's GET /v1/events (30 days kept there) and publishes each event not
// yet in stripe_events to the events topic, through the publisher ingest
// uses, so every consumer sees it and the writer stores it once. The
// one-shot `event-writer backfill --since 72h` and the periodic reconcile
// (Reconcile) are the same run.
package backfill

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/event-writer/internal/progress"
)

// Lister pages through Stripe's events (Stripe is one).
type Lister interface {
	List(ctx context.Context, since time.Time, startingAfter string) (Page, error)
}

// Known reports which of ids are stored (pgstore.StoredEventIDs).
type Known func(ctx context.Context, ids []string) (map[string]bool, error)

// Publisher sends messages to a topic (kafka.Publisher is one).
type Publisher interface {
	Publish(topic string, msgs ...*message.Message) error
}

// Config is one run.
type Config struct {
	Since    time.Time       // events created at or after it
	Topic    string          // the events topic
	DryRun   bool            // count what would be published, publish nothing
	Progress progress.Config // no Name: no progress shown
}

// Stats are what a run found.
type Stats struct {
	Listed    int // events Stripe listed
	Stored    int // of them, already in stripe_events
	Published int // missing, and sent to the topic (or, dry, would be)
	Invalid   int // not an event ingest would take (stripeevent.Parse)
}

// Run lists the events created since cfg.Since, newest first, and
// publishes the ones not stored. An event stored meanwhile, or published
// twice by two runs, is stored once: the writer skips known event ids.
func Run(ctx context.Context, cfg Config, src Lister, known Known, pub Publisher, logger *slog.Logger) (Stats, error) {
	var st Stats
	var prog *progress.Progress
	if cfg.Progress.Name != "" {
		prog = progress.New(cfg.Progress, -1, logger) // Stripe does not say how many
	}
	defer prog.Close()
	after := ""
	for {
		page, err := src.List(ctx, cfg.Since, after)
		if err != nil {
			return st, err
		}
		if err := st.publish(ctx, cfg, page.Events, known, pub, logger); err != nil {
			return st, err
		}
		prog.Add(len(page.Events))
		if !page.HasMore || len(page.Events) == 0 {
			return st, nil
		}
		var last struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(page.Events[len(page.Events)-1], &last); err != nil || last.ID == "" {
			return st, fmt.Errorf("list stripe events: the page's last entry has no id, cannot page on")
		}
		after = last.ID
	}
}

func (st *Stats) publish(ctx context.Context, cfg Config, events []json.RawMessage, known Known, pub Publisher, logger *slog.Logger) error {
	type parsed struct {
		body json.RawMessage
		env  stripeevent.Envelope
	}
	var evs []parsed
	ids := make([]string, 0, len(events))
	for _, raw := range events {
		st.Listed++
		env, err := stripeevent.Parse(raw)
		if err != nil {
			st.Invalid++
			logger.Warn("backfill: Stripe listed something that is not an event; skipped", "error", err)
			continue
		}
		evs = append(evs, parsed{raw, env})
		ids = append(ids, env.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	stored, err := known(ctx, ids)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if stored[e.env.ID] {
			st.Stored++
			continue
		}
		st.Published++
		logger.Info("backfill: event missing, publishing", "event_id", e.env.ID, "event_type", e.env.Type, "dry_run", cfg.DryRun)
		if cfg.DryRun {
			continue
		}
		msg := kafka.NewEventMessage(e.body, e.env, time.Now())
		msg.SetContext(ctx)
		if err := pub.Publish(cfg.Topic, msg); err != nil {
			return fmt.Errorf("publish %s: %w", e.env.ID, err)
		}
	}
	return nil
}
