package consumer

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
)

// SaramaConfig is the project's consumer configuration (kafka.ConsumerSarama:
// auto-commit of marked offsets only) with fetches and buffers sized so a
// partition's next batch is on its way while the last one is written.
func SaramaConfig(clientID string, initial int64, batchSize int) *sarama.Config {
	sc := kafka.ConsumerSarama(clientID, initial)
	sc.ChannelBufferSize = max(batchSize, 256)
	sc.Consumer.Fetch.Default = 8 << 20
	return sc
}

// Run consumes topics in group with h until ctx ends, joining again after
// every rebalance and after errors (a broker away for a while).
func Run(ctx context.Context, group sarama.ConsumerGroup, topics []string, h sarama.ConsumerGroupHandler, logger *slog.Logger) error {
	go func() {
		for err := range group.Errors() {
			logger.Warn("consumer group", "error", err)
		}
	}()
	for {
		err := group.Consume(ctx, topics, h)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, sarama.ErrClosedConsumerGroup) {
			return err
		}
		if err != nil {
			logger.Warn("consume", "error", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}
