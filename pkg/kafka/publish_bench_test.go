package kafka_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
	"github.com/stripeline/stripeline/tools/testenv"
)

// BenchmarkPublisher64 publishes realistic events from 64 concurrent
// callers, one message per Publish, as ingest's handlers do.
func BenchmarkPublisher64(b *testing.B) {
	// A broker of its own with its data on disk, as make run and make bench
	// have it: kfake's in-memory files copy every segment as it grows.
	br, err := devstack.StartBroker(devstack.BrokerConfig{Addr: "127.0.0.1:0", DataDir: b.TempDir(), Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	broker, topic := br.Addr(), testenv.Topic(b)
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: []string{broker}, ClientID: "bench"}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	events := loadgen.Cycle(1, 0, 64)
	type prepared struct {
		body    []byte
		headers map[string]string
	}
	ps := make([]prepared, len(events))
	for i, ev := range events {
		env, err := stripeevent.Parse(ev.Body)
		if err != nil {
			b.Fatal(err)
		}
		ps[i] = prepared{ev.Body, kafka.EventHeaders(env, time.Now())}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				p := ps[int(i)%len(ps)]
				m := message.NewMessage(strconv.Itoa(w), p.body)
				for k, v := range p.headers {
					m.Metadata.Set(k, v)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				m.SetContext(ctx)
				if err := pub.Publish(topic, m); err != nil {
					b.Error(err)
				}
				cancel()
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
