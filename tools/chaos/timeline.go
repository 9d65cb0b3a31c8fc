package chaos

import (
	"fmt"
	"image/color"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Timeline is the run's rates over time, from the stream's start: events
// accepted by ingest (first 2xx), stored (first seen in stripe_events) and
// delivered (first receipt by their subscriber), per second in bins of Bin.
type Timeline struct {
	Bin       time.Duration
	Accepted  []float64
	Stored    []float64
	Delivered []float64
}

// TimelineBin is the width of a Timeline's bins.
const TimelineBin = time.Second

// newTimeline bins the times of each kind from origin.
func newTimeline(origin time.Time, accepted, stored, delivered []time.Time) Timeline {
	bin := func(ts []time.Time) []float64 {
		var out []float64
		for _, t := range ts {
			i := int(t.Sub(origin) / TimelineBin)
			if i < 0 {
				continue
			}
			for len(out) <= i {
				out = append(out, 0)
			}
			out[i] += 1 / TimelineBin.Seconds()
		}
		return out
	}
	return Timeline{Bin: TimelineBin, Accepted: bin(accepted), Stored: bin(stored), Delivered: bin(delivered)}
}

// timeline collects the times of the run's accepts, stores and deliveries.
func timeline(origin time.Time, send *sender, store *storeWatcher, subs []*subscriber) Timeline {
	var accepted, stored, delivered []time.Time
	for _, ev := range send.snapshot() {
		if !ev.Accepted.IsZero() {
			accepted = append(accepted, ev.Accepted)
		}
	}
	store.mu.Lock()
	for _, t := range store.stored {
		stored = append(stored, t)
	}
	store.mu.Unlock()
	for _, s := range subs {
		s.mu.Lock()
		for _, t := range s.received {
			delivered = append(delivered, t)
		}
		s.mu.Unlock()
	}
	return newTimeline(origin, accepted, stored, delivered)
}

// WriteTimeline draws the run as an SVG at path: each fault a shaded band
// from its start for as long as its target stayed down, the accepted,
// stored and delivered rates as lines, and each fault's heal time marked.
func WriteTimeline(path string, r *Report) error {
	tl := r.Timeline
	p := plot.New()
	p.Title.Text = fmt.Sprintf("chaos run, seed %d: faults (bands), rates (lines), heals (marks)", r.Seed)
	p.X.Label.Text = "seconds since the stream started"
	p.Y.Label.Text = "events per second"
	p.Legend.Top = true
	top := 1.0
	for _, s := range [][]float64{tl.Accepted, tl.Stored, tl.Delivered} {
		for _, v := range s {
			top = max(top, v)
		}
	}
	top *= 1.1
	for i, f := range r.Faults {
		start := f.Started.Seconds()
		end := start + max(f.Down, time.Second/4).Seconds()
		band, err := plotter.NewPolygon(plotter.XYs{{X: start, Y: 0}, {X: end, Y: 0}, {X: end, Y: top}, {X: start, Y: top}})
		if err != nil {
			return err
		}
		band.Color = color.RGBA{R: 240, G: 180, B: 60, A: 70}
		band.LineStyle.Width = 0
		p.Add(band)
		label, err := plotter.NewLabels(plotter.XYLabels{
			XYs:    []plotter.XY{{X: start, Y: top * (0.97 - 0.05*float64(i%6))}},
			Labels: []string{f.Fault.String()},
		})
		if err != nil {
			return err
		}
		p.Add(label)
		if f.Healed > 0 {
			at := (f.Started + f.Healed).Seconds()
			mark, err := plotter.NewLine(plotter.XYs{{X: at, Y: 0}, {X: at, Y: top}})
			if err != nil {
				return err
			}
			mark.Color = color.RGBA{R: 40, G: 150, B: 40, A: 255}
			mark.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(mark)
			if i == 0 {
				p.Legend.Add("healed", mark)
			}
		}
	}
	for i, s := range []struct {
		name string
		v    []float64
	}{{"accepted (2xx)", tl.Accepted}, {"stored", tl.Stored}, {"delivered", tl.Delivered}} {
		pts := make(plotter.XYs, len(s.v))
		for j, v := range s.v {
			pts[j] = plotter.XY{X: (float64(j) + 0.5) * tl.Bin.Seconds(), Y: v}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return err
		}
		l.Color = plotutil.Color(i)
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	p.Y.Min, p.Y.Max = 0, top
	return p.Save(12*vg.Inch, 5*vg.Inch, path)
}
