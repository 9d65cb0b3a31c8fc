package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/service"
)

// ErrNotConnected is Publish's error while Connecting has no broker yet.
var ErrNotConnected = errors.New("kafka: not connected to a broker yet")

// Connecting is a Publisher that connects in the background, so a service
// starts (and reports not ready) without a broker instead of exiting. Until
// a broker answers, Publish fails at once with ErrNotConnected and Ready
// says why; it tries again as service.WaitFor does.
type Connecting struct {
	mu      sync.Mutex
	pub     *Publisher
	lastErr error
	closed  bool

	cancel context.CancelFunc
	done   chan struct{}
}

// Connect starts connecting a Publisher of cfg; it stops trying when ctx
// ends or Close is called.
func Connect(ctx context.Context, cfg PublisherConfig, wlog watermill.LoggerAdapter, logger *slog.Logger) *Connecting {
	ctx, cancel := context.WithCancel(ctx)
	c := &Connecting{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_ = service.WaitFor(ctx, logger, "kafka", func(context.Context) error {
			pub, err := NewPublisher(cfg, wlog)
			c.mu.Lock()
			defer c.mu.Unlock()
			c.pub, c.lastErr = pub, err
			return err
		})
	}()
	return c
}

func (c *Connecting) publisher() (*Publisher, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrPublisherClosed
	}
	if c.pub == nil && c.lastErr != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, c.lastErr)
	}
	if c.pub == nil {
		return nil, ErrNotConnected
	}
	return c.pub, nil
}

// Publish is Publisher.Publish once connected.
func (c *Connecting) Publish(topic string, msgs ...*message.Message) error {
	p, err := c.publisher()
	if err != nil {
		return err
	}
	return p.Publish(topic, msgs...)
}

// Ready is nil once connected; /readyz asks it.
func (c *Connecting) Ready(context.Context) error {
	_, err := c.publisher()
	return err
}

// Close stops connecting, and closes the Publisher if it is connected.
func (c *Connecting) Close() error {
	c.cancel()
	<-c.done
	c.mu.Lock()
	c.closed = true
	p := c.pub
	c.mu.Unlock()
	if p != nil {
		return p.Close()
	}
	return nil
}

var _ message.Publisher = (*Connecting)(nil)
