// Package consumer reads the events topic in a consumer group and hands each
// partition's messages on in batches, acknowledging a batch (marking its
// offsets for commit) only after it was written.
package consumer

import (
	"context"
	"strconv"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/services/event-writer/internal/metrics"
)

// Flush writes a batch durably. It returns nil only when the batch may be
// acknowledged; its error (ctx ended) leaves the batch to be read again.
// It must not keep msgs.
type Flush func(ctx context.Context, msgs []*sarama.ConsumerMessage) error

// Bound ends the reading of each partition at some point (a replay reads up
// to the end offsets it saw when it started).
type Bound interface {
	// Past reports a message beyond the end; it is not written.
	Past(msg *sarama.ConsumerMessage) bool
	// Reached reports that the partition was read up to its end when next is
	// the offset to read next.
	Reached(topic string, partition int32, next int64) bool
	// Finished is called once per claim that reached its end.
	Finished(topic string, partition int32)
}

// Batcher is a sarama.ConsumerGroupHandler. Each claim collects messages
// until Size are waiting or Linger has passed since the first, then calls
// Flush and marks the batch's last offset. Sarama's auto-commit commits
// marked offsets only, so nothing is committed before it is written.
//
// A claim that ends (rebalance, shutdown) drops its unwritten batch: it was
// not marked, so the partition's next owner reads it again.
type Batcher struct {
	Size   int
	Linger time.Duration
	Flush  Flush
	Bound  Bound // nil reads forever

	// OnSetup runs at the start of each group generation (a replay moves
	// its new group's offsets there).
	OnSetup func(sarama.ConsumerGroupSession) error
}

// Setup implements sarama.ConsumerGroupHandler.
func (b *Batcher) Setup(sess sarama.ConsumerGroupSession) error {
	n := 0
	for _, ps := range sess.Claims() {
		n += len(ps)
	}
	metrics.AssignedPartitions.Set(float64(n))
	if b.OnSetup != nil {
		return b.OnSetup(sess)
	}
	return nil
}

// Cleanup implements sarama.ConsumerGroupHandler.
func (b *Batcher) Cleanup(sarama.ConsumerGroupSession) error {
	metrics.AssignedPartitions.Set(0)
	return nil
}

// ConsumeClaim implements sarama.ConsumerGroupHandler.
func (b *Batcher) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	topic, partition := claim.Topic(), claim.Partition()
	lag := metrics.ConsumerLag.WithLabelValues(topic, strconv.Itoa(int(partition)))
	if b.Bound != nil && b.Bound.Reached(topic, partition, claim.InitialOffset()) {
		return b.finish(claim)
	}

	size := max(b.Size, 1)
	batch := make([]*sarama.ConsumerMessage, 0, size)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	defer linger.Stop()

	// flush writes and marks the batch; done reports that the claim reached its bound.
	flush := func() (done bool, err error) {
		if len(batch) == 0 {
			return false, nil
		}
		if err := b.Flush(ctx, batch); err != nil {
			return false, err
		}
		last := batch[len(batch)-1]
		sess.MarkMessage(last, "")
		lag.Set(float64(max(claim.HighWaterMarkOffset()-(last.Offset+1), 0)))
		batch = make([]*sarama.ConsumerMessage, 0, size)
		return b.Bound != nil && b.Bound.Reached(topic, partition, last.Offset+1), nil
	}

	for {
		var done bool
		var err error
		select {
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if b.Bound != nil && b.Bound.Past(msg) {
				if _, err = flush(); err == nil {
					done = true
				}
				break
			}
			batch = append(batch, msg)
			if len(batch) == 1 {
				linger.Reset(b.Linger)
			}
			if len(batch) >= size {
				linger.Stop()
				done, err = flush()
			}
		case <-linger.C:
			done, err = flush()
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil // the session ended while retrying: nothing was marked
			}
			return err
		}
		if done {
			return b.finish(claim)
		}
	}
}

// finish reports the claim done and keeps it, reading nothing more, until the
// session ends: a handler that returns early ends the whole session in Sarama.
func (b *Batcher) finish(claim sarama.ConsumerGroupClaim) error {
	b.Bound.Finished(claim.Topic(), claim.Partition())
	for range claim.Messages() {
	}
	return nil
}
