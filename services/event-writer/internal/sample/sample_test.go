package sample

import "testing"

func TestEventsAreRealistic(t *testing.T) {
	g := NewGenerator()
	events := g.Events(7)
	seen := map[string]bool{}
	for _, e := range events {
		if seen[e.ID] {
			t.Fatalf("duplicate id %s", e.ID)
		}
		seen[e.ID] = true
		if len(e.Body) < 1000 || len(e.Body) > 8000 {
			t.Errorf("%s: %d bytes, want a Stripe-sized body", e.Type, len(e.Body))
		}
	}
	if events[1].Type != "charge.succeeded" || events[1].RelatedIDs[0] != events[0].ObjectID {
		t.Fatalf("charge %+v does not point at its payment intent %s", events[1].Envelope, events[0].ObjectID)
	}
}
