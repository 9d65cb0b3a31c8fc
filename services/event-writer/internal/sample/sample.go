// Package sample makes realistic Stripe events and publishes them the way
// webhook-ingest does, for event-writer's tests and its drain benchmark.
// The objects are stripe-mock v0.180.0's fixtures (API 2023-10-16), kept
// pretty-printed as Stripe sends them: 1.5–5 KB per event.
package sample

import (
	"context"
	"embed"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

//go:embed fixtures/*.json
var fixtures embed.FS

func fixture(name string) string {
	b, err := fixtures.ReadFile("fixtures/" + name + ".json")
	if err != nil {
		panic(err)
	}
	// Nest the object under "data": {"object": …} as Stripe indents it.
	return strings.ReplaceAll(strings.TrimSpace(string(b)), "\n", "\n    ")
}

var (
	paymentIntent = fixture("payment_intent")
	charge        = fixture("charge")
	invoice       = fixture("invoice")
)

// Event is one event body with what webhook-ingest would have put in the headers.
type Event struct {
	stripeevent.Envelope
	Body []byte
}

// Generator makes events of new transactions: each payment_intent.succeeded
// is followed by its charge.succeeded, and every third transaction by an
// invoice.paid. Ids are unique across generators.
type Generator struct {
	prefix string
	n      atomic.Int64
	events atomic.Int64
}

// NewGenerator returns a generator with its own id prefix.
func NewGenerator() *Generator {
	return &Generator{prefix: devstack.RandomHex(4)}
}

// Events returns the next n events.
func (g *Generator) Events(n int) []Event {
	out := make([]Event, 0, n)
	for len(out) < n {
		i := g.n.Add(1)
		pi := fmt.Sprintf("pi_%s%07d", g.prefix, i)
		ch := fmt.Sprintf("ch_%s%07d", g.prefix, i)
		out = append(out, g.event("payment_intent.succeeded", paymentIntent,
			`"id": "pi_1"`, `"id": "`+pi+`"`, `"latest_charge": null`, `"latest_charge": "`+ch+`"`))
		out = append(out, g.event("charge.succeeded", charge,
			`"id": "ch_1"`, `"id": "`+ch+`"`, `"payment_intent": null`, `"payment_intent": "`+pi+`"`))
		if i%3 == 0 {
			in := fmt.Sprintf("in_%s%07d", g.prefix, i)
			out = append(out, g.event("invoice.paid", invoice,
				`"id": "in_1"`, `"id": "`+in+`"`, `"payment_intent": null`, `"payment_intent": "`+pi+`"`))
		}
	}
	return out[:n]
}

func (g *Generator) event(typ, object string, replace ...string) Event {
	id := fmt.Sprintf("evt_%s%08d", g.prefix, g.events.Add(1))
	created := time.Now().Unix()
	// Only the first match of each pair: the object's own fields, not a nested one's.
	for i := 0; i < len(replace); i += 2 {
		object = strings.Replace(object, replace[i], replace[i+1], 1)
	}
	body := fmt.Sprintf(`{
  "id": %q,
  "object": "event",
  "api_version": "2023-10-16",
  "created": %d,
  "data": {
    "object": %s
  },
  "livemode": false,
  "pending_webhooks": 1,
  "request": {
    "id": "req_%s",
    "idempotency_key": "%s"
  },
  "type": %q
}`, id, created, object, id[4:], devstack.RandomHex(16), typ)
	env, err := stripeevent.Parse([]byte(body))
	if err != nil {
		panic(fmt.Sprintf("sample event does not parse: %v", err))
	}
	return Event{Envelope: env, Body: []byte(body)}
}

// Message is the event as webhook-ingest publishes it: keyed by object id,
// the raw body as value, the envelope in the headers.
func (e Event) Message(topic string) *sarama.ProducerMessage {
	return Raw(topic, e.ObjectID, e.Body, e.Headers(time.Now()))
}

// Raw is a message with any body and headers: poison looks like this.
func Raw(topic, key string, body []byte, headers map[string]string) *sarama.ProducerMessage {
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(body)}
	for k, v := range headers {
		m.Headers = append(m.Headers, sarama.RecordHeader{Key: []byte(k), Value: []byte(v)})
	}
	return m
}

// Producer publishes with the project's producer settings.
type Producer struct{ p sarama.SyncProducer }

// NewProducer connects to brokers.
func NewProducer(brokers []string) (*Producer, error) {
	p, err := sarama.NewSyncProducer(brokers, kafka.ProducerSarama("sample"))
	if err != nil {
		return nil, err
	}
	return &Producer{p: p}, nil
}

// Send publishes msgs in chunks, each acknowledged by the broker.
func (p *Producer) Send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	for len(msgs) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(msgs), 500)
		if err := p.p.SendMessages(msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

// SendEvents publishes events to topic.
func (p *Producer) SendEvents(ctx context.Context, topic string, events []Event) error {
	msgs := make([]*sarama.ProducerMessage, len(events))
	for i, e := range events {
		msgs[i] = e.Message(topic)
	}
	return p.Send(ctx, msgs)
}

// Close closes the producer.
func (p *Producer) Close() error { return p.p.Close() }
