package eventgen

import (
	"testing"

	"github.com/stripeline/stripeline/pkg/stripeevent"
)

func TestVary(t *testing.T) {
	tpls, err := Load("../../testdata/events")
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) < 6 {
		t.Fatalf("%d templates, want the 6 shapes of testdata/events", len(tpls))
	}
	for _, tpl := range tpls {
		body, eventID, objectID := tpl.Vary(42)
		env, err := stripeevent.Parse(body)
		if err != nil {
			t.Fatalf("%s: varied body does not parse: %v", tpl.Name, err)
		}
		if env.ID != eventID || env.ObjectID != objectID || env.ID == tpl.env.ID || env.ObjectID == tpl.env.ObjectID {
			t.Errorf("%s: varied ids %s %s, parsed %s %s", tpl.Name, eventID, objectID, env.ID, env.ObjectID)
		}
		if env.Type != tpl.env.Type || len(body)-len(tpl.Body) > 16 {
			t.Errorf("%s: type %s, size %d → %d", tpl.Name, env.Type, len(tpl.Body), len(body))
		}
	}
}
