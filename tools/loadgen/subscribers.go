package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// SubscribersConfig says how to hold websocket subscribers on a notifier.
type SubscribersConfig struct {
	URL   string   // ws://host:port/ws
	IDs   []string // one connection, subscribed to `id = '<id>'`, per id
	Token func(id string) string
	// DialConcurrency bounds connections being opened at once.
	DialConcurrency int
	// LocalAddr is the address to dial from (empty: the system's choice).
	// One pair of addresses has some 28k ephemeral ports; every 127.x.y.z
	// is loopback, so more connections spread over several.
	LocalAddr string
	// OnMessage is called for every message frame, from the connection's reader.
	OnMessage func(id, eventID string, at time.Time)
}

// Subscribers are open, subscribed websocket connections.
type Subscribers struct {
	conns  []*websocket.Conn
	closed atomic.Int64
	wg     sync.WaitGroup
}

// Connect opens one subscribed connection per id and returns once every one
// has its "subscribed" answer.
func Connect(ctx context.Context, cfg SubscribersConfig) (*Subscribers, error) {
	if cfg.DialConcurrency <= 0 {
		cfg.DialConcurrency = 64
	}
	dialer := &websocket.Dialer{ReadBufferSize: 1024, WriteBufferSize: 1024, HandshakeTimeout: 30 * time.Second}
	if cfg.LocalAddr != "" {
		ip := net.ParseIP(cfg.LocalAddr)
		if ip == nil {
			return nil, fmt.Errorf("local address %q is not an IP address", cfg.LocalAddr)
		}
		dialer.NetDialContext = (&net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}).DialContext
	}
	s := &Subscribers{conns: make([]*websocket.Conn, len(cfg.IDs))}
	sem := make(chan struct{}, cfg.DialConcurrency)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for i, id := range cfg.IDs {
		select {
		case sem <- struct{}{}:
		case err := <-errc:
			s.Close()
			return nil, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := subscribeOne(ctx, dialer, cfg, id)
			if err != nil {
				select {
				case errc <- fmt.Errorf("subscriber %d (%s): %w", i, id, err):
				default:
				}
				return
			}
			s.conns[i] = c
			s.wg.Add(1)
			go s.read(c, id, cfg.OnMessage)
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		s.Close()
		return nil, err
	default:
	}
	return s, nil
}

func subscribeOne(ctx context.Context, d *websocket.Dialer, cfg SubscribersConfig, id string) (*websocket.Conn, error) {
	c, _, err := d.DialContext(ctx, cfg.URL, http.Header{})
	if err != nil {
		return nil, err
	}
	frame := map[string]string{"type": "subscribe", "channel": "stripe", "selector": "id = '" + id + "'"}
	if cfg.Token != nil {
		frame["token"] = cfg.Token(id)
	}
	if err := c.WriteJSON(frame); err != nil {
		c.Close()
		return nil, err
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var ans struct{ Type, Code, Message string }
	if err := c.ReadJSON(&ans); err != nil {
		c.Close()
		return nil, err
	}
	if ans.Type != "subscribed" {
		c.Close()
		return nil, fmt.Errorf("subscribe answered %s %s: %s", ans.Type, ans.Code, ans.Message)
	}
	_ = c.SetReadDeadline(time.Time{})
	return c, nil
}

func (s *Subscribers) read(c *websocket.Conn, id string, onMessage func(id, eventID string, at time.Time)) {
	defer s.wg.Done()
	defer s.closed.Add(1)
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			return
		}
		at := time.Now()
		var f struct {
			Type    string            `json:"type"`
			Headers map[string]string `json:"headers"`
		}
		if json.Unmarshal(b, &f) != nil || f.Type != "message" {
			continue
		}
		if onMessage != nil {
			onMessage(id, f.Headers["event_id"], at)
		}
	}
}

// Dropped is the number of connections that ended before Close.
func (s *Subscribers) Dropped() int64 { return s.closed.Load() }

// Close closes every connection and waits for the readers.
func (s *Subscribers) Close() {
	for _, c := range s.conns {
		if c != nil {
			c.Close()
		}
	}
	s.wg.Wait()
}
