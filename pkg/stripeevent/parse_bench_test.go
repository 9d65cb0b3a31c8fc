package stripeevent_test

import (
	"testing"

	"github.com/stripeline/stripeline/pkg/loadgen"
	"github.com/stripeline/stripeline/pkg/stripeevent"
)

// BenchmarkParse reads a realistic 3.5 KB charge.succeeded; ingest parses
// every webhook, so this is most of its CPU per request.
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
