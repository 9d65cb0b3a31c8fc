package stripeevent_test

import (
	"testing"

	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// BenchmarkParse reads a realistic 3.5 KB charge.succeeded; ingest parses
// every webhook, so this is part of its CPU per request (figures:
// docs/decisions.md, "An event's envelope is read with encoding/json", and
// docs/webhook-ingest.md, "Figures, and why the target is missed").
func BenchmarkParse(b *testing.B) {
	g := loadgen.Seeded(1)
	body := g.Charge("charge.succeeded", "ch_bench").Body
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := stripeevent.Parse(body); err != nil {
			b.Fatal(err)
		}
	}
}
