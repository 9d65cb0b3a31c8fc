package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// subscriber is a websocket client following one transaction, as a browser
// waiting for its payment would: when the connection drops it dials again
// (its home notifier while it may be restarting, then the others, as a load balancer would route)
// and subscribes again, trusting the notifier's recovery window to replay
// what it missed. It deduplicates by event id.
type subscriber struct {
	id    string // the transaction (ch_…)
	home  int
	urls  []string
	token string

	mu           sync.Mutex
	received     map[string]time.Time // event id → first receipt
	frames       int                  // message frames, duplicates included
	sessionDups  int                  // frames repeating an event id within one connection
	subscribedAt []time.Time          // every "subscribed" answer
	drops        int                  // connections that ended before the run did
	current      string               // the notifier of the live subscription, "" when none
	lastErr      string
}

func (s *subscriber) run(ctx context.Context) {
	dialer := &websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	backoff := 50 * time.Millisecond
	attempt := 0
	for ctx.Err() == nil {
		// homeTries at home (about 4.5 s of backoff, longer than a restart
		// takes, so the clients stay spread), then as many at the next one.
		url := s.urls[(s.home+attempt/homeTries)%len(s.urls)]
		err := s.session(ctx, dialer, url)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.lastErr = err.Error()
		s.mu.Unlock()
		if err == errDropped {
			attempt, backoff = 0, 50*time.Millisecond
		} else {
			attempt++
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Second)
	}
}

var errDropped = fmt.Errorf("connection dropped")

const homeTries = 8

// session is one connection: dial, subscribe, read until it ends. It returns
// errDropped when a subscribed connection ended.
func (s *subscriber) session(ctx context.Context, d *websocket.Dialer, url string) error {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	c, _, err := d.DialContext(dctx, url, http.Header{})
	cancel()
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	defer func() {
		s.mu.Lock()
		s.current = ""
		s.mu.Unlock()
	}()
	frame := map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = '" + s.id + "'", "token": s.token}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := c.WriteJSON(frame); err != nil {
		return err
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	subscribed := false
	// Across connections the recovery window legitimately replays what the
	// last one got; within one subscription the notifier promises no duplicate.
	seen := map[string]bool{}
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			if subscribed {
				s.mu.Lock()
				s.drops++
				s.mu.Unlock()
				return errDropped
			}
			return err
		}
		var f struct {
			Type    string            `json:"type"`
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Headers map[string]string `json:"headers"`
		}
		if err := json.Unmarshal(b, &f); err != nil {
			continue
		}
		switch f.Type {
		case "subscribed":
			if !subscribed {
				subscribed = true
				_ = c.SetReadDeadline(time.Time{})
				s.mu.Lock()
				s.subscribedAt = append(s.subscribedAt, time.Now())
				s.current = url
				s.mu.Unlock()
			}
		case "error":
			if !subscribed {
				return fmt.Errorf("subscribe answered %s: %s", f.Code, f.Message)
			}
		case "message":
			id := f.Headers["event_id"]
			now := time.Now()
			s.mu.Lock()
			s.frames++
			if seen[id] {
				s.sessionDups++
			}
			seen[id] = true
			if _, ok := s.received[id]; !ok {
				s.received[id] = now
			}
			s.mu.Unlock()
		}
	}
}

// subscribedSince reports whether the subscriber has subscribed after t.
func (s *subscriber) subscribedSince(t time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subscribedAt) > 0 && s.subscribedAt[len(s.subscribedAt)-1].After(t)
}

// has reports whether event id has arrived.
func (s *subscriber) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.received[id]
	return ok
}

// nextSubscribe is the first subscribe after t, or zero.
func (s *subscriber) nextSubscribe(t time.Time) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, at := range s.subscribedAt {
		if at.After(t) {
			return at
		}
	}
	return time.Time{}
}
