// Package loadgen makes realistic signed Stripe webhooks and measures what a
// stripeline deployment does with them: the load generator program
// (cmd/stripeline-load) and the benchmark harness are built on it.
package loadgen

import (
	"bytes"
	crand "crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// The fixtures are the objects stripe-mock v0.180.0 serves (API 2023-10-16),
// Stripe's own shapes: GET /v1/charges/ch_1, /v1/payment_intents/pi_1,
// /v1/invoices/in_1, /v1/subscriptions/sub_1, /v1/checkout/sessions/cs_1.
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

type kind struct {
	fixture string   // file under fixtures/
	prefix  string   // id prefix of the object
	types   []string // event types carrying this object
}

var kinds = []kind{
	{"charge", "ch_", []string{"charge.succeeded", "charge.refunded", "charge.updated"}},
	{"payment_intent", "pi_", []string{"payment_intent.succeeded", "payment_intent.created"}},
	{"invoice", "in_", []string{"invoice.paid", "invoice.finalized"}},
	{"subscription", "sub_", []string{"customer.subscription.updated"}},
	{"checkout.session", "cs_", []string{"checkout.session.completed"}},
}

// fixtures are the decoded fixture objects by kind; never modified.
var fixtures = func() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, k := range kinds {
		b, err := fixtureFS.ReadFile("fixtures/" + k.fixture + ".json")
		if err != nil {
			panic(err)
		}
		var obj map[string]any
		if err := json.Unmarshal(b, &obj); err != nil {
			panic(fmt.Sprintf("fixture %s: %v", k.fixture, err))
		}
		out[k.fixture] = obj
	}
	return out
}()

// Generator makes events from the fixtures, with fresh ids. It is
// deterministic for a seed (when called from one goroutine) and safe for
// concurrent use.
type Generator struct {
	mu  sync.Mutex
	rng *rand.Rand
}

// Seeded returns a generator seeded with seed.
func Seeded(seed uint64) *Generator {
	return &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x5eed))}
}

// RandomSeed is a seed for a generator whose ids no other run repeats.
func RandomSeed() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// ID returns a Stripe-looking id with prefix ("ch_", "evt_", …).
func (g *Generator) ID(prefix string) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.id(prefix)
}

func (g *Generator) id(prefix string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for range 24 {
		b.WriteByte(idAlphabet[g.rng.IntN(len(idAlphabet))])
	}
	return b.String()
}

// Event is one generated webhook body and what the pipeline reads of it.
type Event struct {
	stripeevent.Envelope
	Body []byte // as Stripe sends it: indented JSON
}

// Random returns an event of a random kind and type for a new object.
func (g *Generator) Random() Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	k := kinds[g.rng.IntN(len(kinds))]
	return g.event(k, k.types[g.rng.IntN(len(k.types))], g.id(k.prefix))
}

// Events returns n events of Random.
func (g *Generator) Events(n int) []Event {
	out := make([]Event, n)
	for i := range out {
		out[i] = g.Random()
	}
	return out
}

// Charge returns a charge event of type typ for charge id chargeID.
func (g *Generator) Charge(typ, chargeID string) Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.event(kinds[0], typ, chargeID)
}

func (g *Generator) event(k kind, typ, objectID string) Event {
	obj := clone(fixtures[k.fixture])
	obj["id"] = objectID
	cus := g.id("cus_")
	if _, ok := obj["customer"]; ok {
		obj["customer"] = cus
	}
	switch k.fixture {
	case "charge":
		obj["payment_intent"] = g.id("pi_")
		obj["refunded"] = typ == "charge.refunded"
	case "payment_intent":
		obj["latest_charge"] = g.id("ch_")
		if typ == "payment_intent.succeeded" {
			obj["status"] = "succeeded"
		}
	case "invoice":
		obj["charge"] = g.id("ch_")
		obj["payment_intent"] = g.id("pi_")
	}
	now := time.Now().Unix()
	obj["created"] = now
	ev := map[string]any{
		"id":               g.id("evt_"),
		"object":           "event",
		"api_version":      "2023-10-16",
		"created":          now,
		"data":             map[string]any{"object": obj},
		"livemode":         false,
		"pending_webhooks": 1,
		"request":          map[string]any{"id": g.id("req_"), "idempotency_key": g.id("")},
		"type":             typ,
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	_ = enc.Encode(ev)
	body := bytes.TrimSpace(buf.Bytes())
	env, err := stripeevent.Parse(body)
	if err != nil {
		panic(fmt.Sprintf("generated event does not parse: %v", err)) // a fixture is broken
	}
	return Event{Envelope: env, Body: body}
}

// clone deep-copies a decoded JSON object so events never share state.
func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneValue(v)
	}
	return out
}

func cloneValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return clone(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cloneValue(e)
		}
		return out
	default:
		return v
	}
}
