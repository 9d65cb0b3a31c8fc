package loadgen

import (
	"testing"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

func TestGeneratedEventsAreRealisticAndDistinct(t *testing.T) {
	g := Seeded(1)
	seen := map[string]bool{}
	types := map[string]bool{}
	for range 500 {
		e := g.Random()
		env, err := stripeevent.Parse(e.Body)
		if err != nil {
			t.Fatalf("generated event does not parse: %v\n%s", err, e.Body)
		}
		if env.ID != e.ID || env.ObjectID != e.ObjectID || env.Type != e.Type {
			t.Fatalf("envelope %+v does not match event %s/%s/%s", env, e.ID, e.ObjectID, e.Type)
		}
		if seen[e.ID] {
			t.Fatalf("duplicate event id %s", e.ID)
		}
		seen[e.ID] = true
		types[e.Type] = true
		if n := len(e.Body); n < 1000 || n > 7000 {
			t.Errorf("%s is %d bytes; Stripe's are 1–7 KB", e.Type, n)
		}
	}
	if len(types) < 6 {
		t.Errorf("only %d event types generated", len(types))
	}
}

func TestGeneratorIsDeterministic(t *testing.T) {
	a, b := Seeded(7), Seeded(7)
	for range 10 {
		if ea, eb := a.Random(), b.Random(); ea.ID != eb.ID || ea.Type != eb.Type {
			t.Fatalf("same seed, different events: %s/%s vs %s/%s", ea.ID, ea.Type, eb.ID, eb.Type)
		}
	}
}

func TestChargeEventRelatesItsPaymentIntent(t *testing.T) {
	g := Seeded(3)
	e := g.Charge("charge.succeeded", "ch_x")
	env, err := stripeevent.Parse(e.Body)
	if err != nil {
		t.Fatal(err)
	}
	if env.ObjectID != "ch_x" || len(env.RelatedIDs) == 0 {
		t.Fatalf("envelope = %+v, want ch_x with related ids", env)
	}
}

func TestShapesVary(t *testing.T) {
	shapes := Shapes()
	if len(shapes) < 8 {
		t.Fatalf("%d shapes, want the 8 of fixtures/", len(shapes))
	}
	for _, s := range shapes {
		body, eventID, objectID := s.Vary(42)
		env, err := stripeevent.Parse(body)
		if err != nil {
			t.Fatalf("%s: varied body does not parse: %v", s.Name, err)
		}
		if env.ID != eventID || env.ObjectID != objectID || env.ID == s.env.ID || env.ObjectID == s.env.ObjectID {
			t.Errorf("%s: varied ids %s %s, parsed %s %s", s.Name, eventID, objectID, env.ID, env.ObjectID)
		}
		if env.Type != s.env.Type || len(body)-len(s.Body) > 16 {
			t.Errorf("%s: type %s, size %d → %d", s.Name, env.Type, len(s.Body), len(body))
		}
	}
	if _, ok := ShapeNamed("charge.succeeded.connect"); !ok {
		t.Error("no Connect shape")
	}
}
