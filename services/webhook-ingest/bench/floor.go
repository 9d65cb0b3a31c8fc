package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fasthttp"

	"github.com/stripeline/stripeline/pkg/kafka"
)

// The floors answer the question the ratio raises: how fast could any
// webhook-ingest be on this machine, with these senders and this broker?
// Each serves the same requests as ingest, on the same HTTP server and load
// generator, and does less than any correct ingest must:
//
//   - the HTTP floor reads the request and answers 200 at once: no
//     signature, no parsing, nothing published;
//   - the produce floor also produces the body with the producer settings
//     of ingest (kafka.ProducerOptions: acks from all in-sync replicas,
//     idempotent, linger 0) and answers once the broker acknowledged it. The
//     key comes from a header the sender sets, so the records go to the
//     partitions ingest's do; no watermill message, no headers, no checks.
//
// A correct ingest cannot pass the produce floor: requirement 4 of the
// service is this acknowledgement before the 200.

// floorKeyHeader carries the record key to the produce floor; ingest ignores it.
const floorKeyHeader = "Floor-Key"

var floorAnswer = []byte(`{"received":true}` + "\n")

// floors measures the HTTP floor, then the produce floor. keys[i] is the key
// ingest gives bodies[i].
func floors(ctx context.Context, cfg Config, bodies [][]byte, keys []string) (httpOnly, produce Figure, err error) {
	reqs := signed(bodies, func(i int) []string { return []string{floorKeyHeader + ": " + keys[i]} })
	name := func(what string) string { return fmt.Sprintf("floor: %s (%d senders)", what, cfg.Senders) }

	httpOnly, err = serveFloor(ctx, cfg, name("HTTP, answer only"), reqs, func(c *fasthttp.RequestCtx) {
		_ = c.PostBody()
		c.SetContentType("application/json")
		c.SetBody(floorAnswer)
	})
	if err != nil {
		return httpOnly, produce, fmt.Errorf("HTTP floor: %w", err)
	}

	client, err := kgo.NewClient(kafka.ProducerOptions(kafka.BatchPublisherConfig{Brokers: cfg.Brokers, ClientID: "bench-floor"})...)
	if err != nil {
		return httpOnly, produce, err
	}
	defer client.Close()
	topic := topicName("floor")
	produce, err = serveFloor(ctx, cfg, name("HTTP + produce"), reqs, func(c *fasthttp.RequestCtx) {
		rec := &kgo.Record{Topic: topic, Key: bytes.Clone(c.Request.Header.Peek(floorKeyHeader)), Value: bytes.Clone(c.PostBody())}
		if err := client.ProduceSync(c, rec).FirstErr(); err != nil {
			c.Error(err.Error(), http.StatusServiceUnavailable)
			return
		}
		c.SetContentType("application/json")
		c.SetBody(floorAnswer)
	})
	if err != nil {
		return httpOnly, produce, fmt.Errorf("produce floor: %w", err)
	}
	return httpOnly, produce, nil
}

// serveFloor serves handler on loopback with ingest's server settings that
// bear on speed, and posts reqs to it.
func serveFloor(ctx context.Context, cfg Config, name string, reqs []request, handler fasthttp.RequestHandler) (Figure, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return Figure{}, err
	}
	srv := &fasthttp.Server{Handler: handler, ReadBufferSize: 16 << 10, NoDefaultServerHeader: true, CloseOnShutdown: true}
	go srv.Serve(ln)
	defer srv.Shutdown()
	return postAll(ctx, cfg, name, "http://"+ln.Addr().String()+"/", reqs, nil)
}
