package bench

import (
	"bytes"
	"encoding/xml"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/loadgen"
)

func TestHistogramSVG(t *testing.T) {
	var d []time.Duration
	for i := range 1000 {
		d = append(d, time.Duration(1+i%7)*time.Millisecond)
	}
	d = append(d, 250*time.Millisecond)
	s := loadgen.Summarize(d)
	svg := histogramSVG(s, "a <title> & more")
	var doc struct {
		Rects []struct {
			Height string `xml:"height,attr"`
		} `xml:"rect"`
	}
	if err := xml.Unmarshal([]byte(svg), &doc); err != nil {
		t.Fatalf("not well-formed SVG: %v\n%s", err, svg)
	}
	bars, tall := 0, 0
	for _, r := range doc.Rects[1:] { // the first is the background
		bars++
		if h, err := strconv.ParseFloat(r.Height, 64); err == nil && h > 0 {
			tall++
		}
	}
	if bars != len(s.Buckets)-firstNonEmpty(s.Buckets) || tall != 8 {
		t.Fatalf("%d bars (%d with samples), want one per bucket from the first sample and 8 with samples", bars, tall)
	}
	for _, want := range []string{"p50", "p99", "&lt;title&gt; &amp; more"} {
		if !strings.Contains(svg, want) {
			t.Errorf("SVG lacks %q", want)
		}
	}
}

func firstNonEmpty(b []int) int {
	for i, n := range b {
		if n > 0 {
			return i
		}
	}
	return len(b)
}

func TestTableShowsEveryFigureBesideItsCeiling(t *testing.T) {
	r := &Results{Config: Config{IngestSenders: 64, E2ERate: 1000, APIConcurrency: 8}}
	r.Ingest.Service.PerSecond, r.Ingest.SaramaPerSecond, r.Ingest.Ratio = 5000, 50000, 0.1
	r.Writer = Writer{Events: 100000, PerSecond: 15000, CopyFromPerSecond: 18000, Ratio: 0.83}
	r.Notifier.Connections, r.Notifier.PerConnKiB = 10000, 8.5
	var b bytes.Buffer
	Table(&b, r)
	for _, want := range []string{"5000/s", "50000/s bare Sarama", "0.10", "15000/s", "18000/s bare CopyFrom", "0.83", "8.5 KiB", "10000 conns"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

// A run of some steps prints only their rows; the ceiling is the median.
func TestTableShowsTheStepsThatRan(t *testing.T) {
	r := &Results{Config: Config{Only: []string{"ingest"}, IngestSenders: 64}}
	r.Ingest.SaramaRuns = []float64{130_000, 60_000, 150_000}
	r.Ingest.SaramaPerSecond = median(r.Ingest.SaramaRuns)
	r.Ingest.HTTPFloor.PerSecond, r.Ingest.HTTPFloorRatio = 91_000, 0.7
	r.Ingest.ProduceFloor.PerSecond, r.Ingest.ProduceFloorRatio = 39_000, 0.3
	var b bytes.Buffer
	Table(&b, r)
	out := b.String()
	if !strings.Contains(out, "ingest:") || !strings.Contains(out, "130000/s bare Sarama batches (median of 3)") {
		t.Errorf("no ingest row with the median ceiling:\n%s", out)
	}
	if !regexp.MustCompile(`floor: answer 200, nothing else +91000/s .* 0\.70`).MatchString(out) ||
		!regexp.MustCompile(`floor: produce with acks, nothing else +39000/s .* 0\.30`).MatchString(out) {
		t.Errorf("no floor rows:\n%s", out)
	}
	for _, absent := range []string{"writer:", "notifier:", "api:"} {
		if strings.Contains(out, absent) {
			t.Errorf("row %q printed for a step that did not run:\n%s", absent, out)
		}
	}
	r.Config.Only = nil
	b.Reset()
	Table(&b, r)
	for _, want := range []string{"ingest:", "writer:", "notifier: RSS", "api:"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("full run without row %q", want)
		}
	}
}

// The api rows: charges and refunds at the fixed rate, each beside the
// same call straight to stripe-mock, with the overhead.
func TestTableShowsTheAPIRows(t *testing.T) {
	r := &Results{Config: Config{Only: []string{"api"}, APIRate: 200}}
	r.API.Charge.PerSecond, r.API.Direct.PerSecond, r.API.OverheadP50Ms = 199, 200, 0.8
	r.API.Refund.PerSecond, r.API.RefundDirect.PerSecond, r.API.RefundOverheadP50Ms = 198, 200, 0.9
	var b bytes.Buffer
	Table(&b, r)
	for _, want := range []string{"POST /Stripe/charge at 200/s", "overhead p50 +0.80 ms, goal ≤ 1 ms", "POST /Stripe/refunds at 200/s", "198/s", "overhead p50 +0.90 ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
