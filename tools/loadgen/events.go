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
	"io/fs"
	"math/rand/v2"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// The fixtures (fixtures/*.json, described in fixtures/README.md) are real
// Stripe event shapes, each `data.object` one of stripe-mock v0.180.0's
// objects (API 2023-10-16) in the state its event type describes. They are
// the one fixture set of the project: the generator takes its objects from
// them, and the tests use them whole as Shapes (the fuzz seeds, the odd
// shapes: a Connect event, a newer API version).
//
//go:embed fixtures/*.json
var fixtureFS embed.FS

type kind struct {
	shape  string   // the fixture whose data.object the kind's events carry
	prefix string   // id prefix of the object
	types  []string // event types carrying this object
}

var kinds = []kind{
	{"charge.succeeded", "ch_", []string{"charge.succeeded", "charge.refunded", "charge.updated"}},
	{"payment_intent.succeeded", "pi_", []string{"payment_intent.succeeded", "payment_intent.created"}},
	{"invoice.paid", "in_", []string{"invoice.paid", "invoice.finalized"}},
	{"customer.subscription.updated", "sub_", []string{"customer.subscription.updated"}},
	{"checkout.session.completed", "cs_", []string{"checkout.session.completed"}},
}

// Shape is one fixture: a real event body as Stripe sends it.
type Shape struct {
	Name string // the file name without .json, e.g. "invoice.paid"
	Body []byte
	env  stripeevent.Envelope
}

// shapes are every fixture, sorted by name; never modified.
var shapes = func() []Shape {
	files, err := fs.Glob(fixtureFS, "fixtures/*.json")
	if err != nil {
		panic(err)
	}
	sort.Strings(files)
	out := make([]Shape, 0, len(files))
	for _, f := range files {
		body, err := fixtureFS.ReadFile(f)
		if err != nil {
			panic(err)
		}
		env, err := stripeevent.Parse(body)
		if err != nil {
			panic(fmt.Sprintf("fixture %s: %v", f, err))
		}
		out = append(out, Shape{Name: strings.TrimSuffix(path.Base(f), ".json"), Body: body, env: env})
	}
	return out
}()

// Shapes returns every fixture, sorted by name.
func Shapes() []Shape { return slices.Clone(shapes) }

// ShapeNamed returns the fixture named name ("invoice.paid").
func ShapeNamed(name string) (Shape, bool) {
	for _, s := range shapes {
		if s.Name == name {
			return s, true
		}
	}
	return Shape{}, false
}

// Vary returns the shape with its event id and object id made unique by n,
// so that n events of one shape are n events of n transactions, each still
// the same shape and size (within a few bytes).
func (s Shape) Vary(n int) (body []byte, eventID, objectID string) {
	suffix := "x" + strconv.Itoa(n)
	eventID, objectID = s.env.ID+suffix, s.env.ObjectID+suffix
	body = bytes.Replace(s.Body, quote(s.env.ID), quote(eventID), 1)
	body = bytes.ReplaceAll(body, quote(s.env.ObjectID), quote(objectID))
	return body, eventID, objectID
}

func quote(s string) []byte { return []byte(`"` + s + `"`) }

// fixtures are the decoded data.object of each kind's shape; never modified.
var fixtures = func() map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, k := range kinds {
		s, ok := ShapeNamed(k.shape)
		if !ok {
			panic("no fixture " + k.shape)
		}
		var ev struct {
			Data struct {
				Object map[string]any `json:"object"`
			} `json:"data"`
		}
		if err := json.Unmarshal(s.Body, &ev); err != nil {
			panic(fmt.Sprintf("fixture %s: %v", k.shape, err))
		}
		out[k.shape] = ev.Data.Object
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
	obj := clone(fixtures[k.shape])
	obj["id"] = objectID
	cus := g.id("cus_")
	if _, ok := obj["customer"]; ok {
		obj["customer"] = cus
	}
	switch k.prefix {
	case "ch_":
		obj["payment_intent"] = g.id("pi_")
		obj["refunded"] = typ == "charge.refunded"
	case "pi_":
		obj["latest_charge"] = g.id("ch_")
		if typ != "payment_intent.succeeded" {
			obj["status"] = "requires_payment_method"
		}
	case "in_":
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
