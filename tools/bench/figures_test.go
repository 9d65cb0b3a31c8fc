package bench

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Write draws throughput.svg (a line per step that ran) and notifier-rss.svg
// (RSS against connections) beside latency.svg: well-formed SVG naming what
// they show.
func TestWriteDrawsTheFigures(t *testing.T) {
	r := &Results{Config: Config{E2ERate: 1000, Only: []string{"ingest", "api", "notifier-memory"}}}
	r.Ingest.Service.Latency.Throughput = []float64{100, 4000, 5200, 0, 5100}
	r.Ingest.Publisher.Latency.Throughput = []float64{9000, 9100}
	r.API.Charge.Latency.Throughput = []float64{300, 310}
	r.Notifier.AtRate.Latency.Throughput = []float64{1000} // notifier-latency did not run: not drawn
	r.Notifier.Connections, r.Notifier.PerConnKiB, r.Notifier.RSSBeforeKiB = 1000, 9.2, 20000
	r.Notifier.Ramp = []RampPoint{{0, 0, 20000}, {0.25, 400, 23800}, {0.5, 1000, 29300}, {5.5, 1000, 29200}}
	dir := t.TempDir()
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string][]string{
		"throughput.svg":   {"ingest: webhooks accepted", "kafka.Publisher alone", "api: POST /Stripe/charge"},
		"notifier-rss.svg": {"RSS, MiB", "9.2 KiB per connection"},
	} {
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		var doc struct{ XMLName xml.Name }
		if err := xml.Unmarshal(b, &doc); err != nil || doc.XMLName.Local != "svg" {
			t.Fatalf("%s is not SVG (%v): %.200s", file, err, b)
		}
		for _, w := range want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s lacks %q", file, w)
			}
		}
		if file == "throughput.svg" && strings.Contains(string(b), "POST→websocket") {
			t.Errorf("throughput.svg draws a step that did not run")
		}
	}
}

// No step with a throughput series, no ramp: no figure, and no error.
func TestWriteWithoutSeriesDrawsNoFigure(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, &Results{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"throughput.svg", "notifier-rss.svg"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("%s written without data (%v)", f, err)
		}
	}
}
