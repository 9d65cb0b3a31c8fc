package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// RateLimited wraps h so that a line repeated (same level and message)
// within every is written once: the first goes through, the repeats are
// counted, and the next one written after every has passed says how many
// were dropped (attribute "repeated"). watermill logs every handler error,
// every retry and every failed reconnect; an outage would otherwise flood.
func RateLimited(h slog.Handler, every time.Duration) slog.Handler {
	return &limited{h: h, every: every, state: &limitState{seen: map[limitKey]*limitEntry{}}}
}

type limitKey struct {
	level slog.Level
	msg   string
}

type limitEntry struct {
	last    time.Time
	dropped int
}

type limitState struct {
	mu   sync.Mutex
	seen map[limitKey]*limitEntry
}

type limited struct {
	h     slog.Handler
	every time.Duration
	state *limitState // shared by the handlers WithAttrs and WithGroup make
}

func (l *limited) Enabled(ctx context.Context, level slog.Level) bool { return l.h.Enabled(ctx, level) }

func (l *limited) Handle(ctx context.Context, r slog.Record) error {
	k := limitKey{r.Level, r.Message}
	l.state.mu.Lock()
	e := l.state.seen[k]
	if e == nil {
		if len(l.state.seen) > 10000 { // a bound: messages are few, but never trust that
			clear(l.state.seen)
		}
		e = &limitEntry{}
		l.state.seen[k] = e
	}
	if !e.last.IsZero() && r.Time.Sub(e.last) < l.every {
		e.dropped++
		l.state.mu.Unlock()
		return nil
	}
	dropped := e.dropped
	e.last, e.dropped = r.Time, 0
	l.state.mu.Unlock()
	if dropped > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("repeated", dropped))
	}
	return l.h.Handle(ctx, r)
}

func (l *limited) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &limited{h: l.h.WithAttrs(attrs), every: l.every, state: l.state}
}

func (l *limited) WithGroup(name string) slog.Handler {
	return &limited{h: l.h.WithGroup(name), every: l.every, state: l.state}
}
