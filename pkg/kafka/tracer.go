package kafka

import (
	"github.com/IBM/sarama"
	wmkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/dnwe/otelsarama"
	"go.opentelemetry.io/otel/trace"

	"github.com/stripeline/stripeline/pkg/tracing"
)

// saramaTracer is watermill-kafka's SaramaTracer on otelsarama, with a
// tracer provider of the service's own and stripeline's propagator
// (watermill-kafka's NewOTELSaramaTracer takes the global ones).
//
// otelsarama's producer span takes its parent from the message's
// traceparent header (the publisher's metadata, tracing.Inject) and writes
// its own there; its consumer span takes the producer's from the headers
// and writes its own back into them, so a handler finds the trace in the
// message's metadata (tracing.Extract), not in its context.
type saramaTracer struct{ opts []otelsarama.Option }

// newSaramaTracer is nil, no tracer installed, when tp is nil.
func newSaramaTracer(tp trace.TracerProvider) wmkafka.SaramaTracer {
	if tp == nil {
		return nil
	}
	return saramaTracer{opts: []otelsarama.Option{
		otelsarama.WithTracerProvider(tp), otelsarama.WithPropagators(tracing.Propagator),
	}}
}

func (t saramaTracer) WrapConsumer(c sarama.Consumer) sarama.Consumer {
	return otelsarama.WrapConsumer(c, t.opts...)
}

func (t saramaTracer) WrapConsumerGroupHandler(h sarama.ConsumerGroupHandler) sarama.ConsumerGroupHandler {
	return otelsarama.WrapConsumerGroupHandler(h, t.opts...)
}

func (t saramaTracer) WrapPartitionConsumer(pc sarama.PartitionConsumer) sarama.PartitionConsumer {
	return otelsarama.WrapPartitionConsumer(pc, t.opts...)
}

func (t saramaTracer) WrapSyncProducer(cfg *sarama.Config, p sarama.SyncProducer) sarama.SyncProducer {
	return otelsarama.WrapSyncProducer(cfg, p, t.opts...)
}
