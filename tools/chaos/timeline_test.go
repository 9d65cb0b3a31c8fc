package chaos

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// Times are binned per second from the stream's start; a stall keeps its
// empty bins.
func TestNewTimelineBinsFromTheStart(t *testing.T) {
	o := time.Unix(1700000000, 0)
	at := func(ms ...int) []time.Time {
		var out []time.Time
		for _, m := range ms {
			out = append(out, o.Add(time.Duration(m)*time.Millisecond))
		}
		return out
	}
	tl := newTimeline(o, at(10, 900, 2100), at(1500, 2200, 2300), nil)
	if !slices.Equal(tl.Accepted, []float64{2, 0, 1}) || !slices.Equal(tl.Stored, []float64{0, 1, 2}) || tl.Delivered != nil {
		t.Errorf("timeline %+v, want accepted [2 0 1], stored [0 1 2], delivered none", tl)
	}
}

// The timeline is an SVG naming each fault, the three rates and the heals.
func TestWriteTimeline(t *testing.T) {
	r := &Report{Seed: 42, Timeline: Timeline{Bin: time.Second, Accepted: []float64{100, 100, 0, 90}, Stored: []float64{90, 0, 0, 200}, Delivered: []float64{80, 0, 0, 210}}}
	r.Faults = []FaultResult{
		{Fault: Fault{Kind: KillService, Target: "event-writer-1", Down: 2 * time.Second}, Started: time.Second, Healed: 2500 * time.Millisecond, OK: true},
		{Fault: Fault{Kind: Duplicates, Count: 5}, Started: 3 * time.Second},
	}
	path := filepath.Join(t.TempDir(), "timeline.svg")
	if err := WriteTimeline(path, r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct{ XMLName xml.Name }
	if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "svg" {
		t.Fatalf("not SVG (%v)", err)
	}
	for _, want := range []string{"seed 42", "kill event-writer-1", "duplicates ×5", "accepted (2xx)", "stored", "delivered", "healed"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("timeline lacks %q", want)
		}
	}
}
