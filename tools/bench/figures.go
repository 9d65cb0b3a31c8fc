package bench

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/stripeline/stripeline/tools/loadgen"
)

// series is one line of the throughput figure: a step's completions per
// second over time.
type series struct {
	name string
	s    loadgen.Summary
}

// throughputSeries are the steps that ran, with their throughput over time.
func throughputSeries(r *Results) []series {
	var out []series
	add := func(name string, s loadgen.Summary) {
		if len(s.Throughput) > 0 {
			out = append(out, series{name, s})
		}
	}
	if r.Config.ran("ingest") {
		add("ingest: webhooks accepted", r.Ingest.Service.Latency)
		add("ingest ceiling: kafka.Publisher alone", r.Ingest.Publisher.Latency)
	}
	if r.Config.ran("notifier-latency") {
		add(fmt.Sprintf("POST→websocket at %.0f ev/s: deliveries", r.Config.E2ERate), r.Notifier.AtRate.Latency)
		add("POST→websocket flat out: deliveries", r.Notifier.Max.Latency)
	}
	if r.Config.ran("api") {
		add("api: POST /Stripe/charge", r.API.Charge.Latency)
		add("stripe-mock direct", r.API.Direct.Latency)
	}
	return out
}

// writeThroughput draws each step's throughput over time, from the step's
// first completion: warm-up and stalls show as dips. Nothing is written
// when no step recorded any.
func writeThroughput(dir string, r *Results) error {
	ss := throughputSeries(r)
	if len(ss) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "throughput over time, per step (bins of " + loadgen.ThroughputBin.String() + ")"
	p.X.Label.Text = "seconds since the step's first completion"
	p.Y.Label.Text = "completed per second"
	p.Legend.Top = true
	for i, s := range ss {
		pts := make(plotter.XYs, len(s.s.Throughput))
		for j, v := range s.s.Throughput {
			pts[j] = plotter.XY{X: float64(j) * loadgen.ThroughputBin.Seconds(), Y: v}
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		l.Dashes = plotutil.Dashes(i / 7)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Add(plotter.NewGrid())
	return p.Save(10*vg.Inch, 5*vg.Inch, filepath.Join(dir, "throughput.svg"))
}

// writeRamp draws the notifier's RSS against its open connections while
// they ramp up, and the line of the bench's per-connection figure.
func writeRamp(dir string, n Notifier) error {
	if len(n.Ramp) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("notifier RSS while %d subscribed connections open (%.1f KiB per connection after settling)", n.Connections, n.PerConnKiB)
	p.X.Label.Text = "open websocket connections (notifier_connections)"
	p.Y.Label.Text = "RSS, MiB"
	pts := make(plotter.XYs, len(n.Ramp))
	for i, s := range n.Ramp {
		pts[i] = plotter.XY{X: float64(s.Connections), Y: float64(s.RSSKiB) / 1024}
	}
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	points.Radius = vg.Points(1.5)
	p.Add(line, points, plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.Add("sampled every "+rampEvery.String(), line, points)
	if n.PerConnKiB > 0 {
		// The settled figure: before, plus PerConnKiB per connection.
		base := float64(n.RSSBeforeKiB) / 1024
		fit, err := plotter.NewLine(plotter.XYs{{X: 0, Y: base}, {X: float64(n.Connections), Y: base + n.PerConnKiB*float64(n.Connections)/1024}})
		if err != nil {
			return err
		}
		fit.Color = color.RGBA{R: 200, A: 255}
		fit.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(fit)
		p.Legend.Add(fmt.Sprintf("%.1f KiB per connection (settled)", n.PerConnKiB), fit)
	}
	return p.Save(10*vg.Inch, 5*vg.Inch, filepath.Join(dir, "notifier-rss.svg"))
}
