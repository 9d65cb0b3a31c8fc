package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/stripeline/stripeline/tools/loadgen"
)

// Write saves results.json and the figures into dir: latency.svg (the
// webhook → websocket latency distribution), throughput.svg (each step's
// throughput over time) and notifier-rss.svg (the notifier's RSS against
// its connections while they ramp up).
func Write(dir string, r *Results) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), append(b, '\n'), 0o644); err != nil {
		return err
	}
	title := fmt.Sprintf("webhook POST → websocket receipt, %.0f events/s, %d subscribers (p50 %.2f ms, p99 %.2f ms, n=%d)",
		r.Config.E2ERate, r.Notifier.AtRate.Subscribers, r.Notifier.AtRate.Latency.P50, r.Notifier.AtRate.Latency.P99, r.Notifier.AtRate.Latency.Count)
	if err := os.WriteFile(filepath.Join(dir, "latency.svg"), []byte(histogramSVG(r.Notifier.AtRate.Latency, title)), 0o644); err != nil {
		return err
	}
	if err := writeThroughput(dir, r); err != nil {
		return fmt.Errorf("throughput.svg: %w", err)
	}
	if err := writeRamp(dir, r.Notifier); err != nil {
		return fmt.Errorf("notifier-rss.svg: %w", err)
	}
	return nil
}

// Table prints the report: each figure beside its ceiling.
func Table(w io.Writer, r *Results) {
	fmt.Fprintf(w, "stripeline bench — %s — %d CPUs (%s), %d GiB, %s\n\n", r.When.Format("2006-01-02 15:04 UTC"), r.Machine.CPUs, r.Machine.Model, r.Machine.MemGiB, r.Machine.Go)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "figure\tstripeline\tceiling (same run)\tratio\tlatency p50 / p99")
	fmt.Fprintln(tw, "------\t----------\t------------------\t-----\t-----------------")
	if r.Config.ran("ingest") {
		in := r.Ingest
		fmt.Fprintf(tw, "ingest: verified+acked webhooks/s, %d senders\t%.0f/s\t%.0f/s kafka.Publisher alone, %d callers\t%.2f\t%s\n",
			r.Config.IngestSenders, in.Service.PerSecond, in.Publisher.PerSecond, r.Config.IngestSenders, in.Ratio, lat(in.Service.Latency))
		fmt.Fprintf(tw, "  the ceiling itself\t%.0f/s\t%.0f/s bare Sarama batches (median of %d)\t%.2f\t%s\n",
			in.Publisher.PerSecond, in.SaramaPerSecond, len(in.SaramaRuns), ratio(in.Publisher.PerSecond, in.SaramaPerSecond), lat(in.Publisher.Latency))
		fmt.Fprintf(tw, "  floor: answer 200, nothing else\t%.0f/s\t(the Publisher ceiling)\t%.2f\t%s\n",
			in.HTTPFloor.PerSecond, in.HTTPFloorRatio, lat(in.HTTPFloor.Latency))
		fmt.Fprintf(tw, "  floor: produce with acks, nothing else\t%.0f/s\t(the Publisher ceiling)\t%.2f\t%s\n",
			in.ProduceFloor.PerSecond, in.ProduceFloorRatio, lat(in.ProduceFloor.Latency))
		fmt.Fprintf(tw, "ingest: RSS growth, %d silent sockets declaring 1 MiB + %d webhooks\t%+.1f MiB\t(goal < 64 MiB)\t\t%.1f → %.1f MiB\n",
			in.SilentSockets, in.MemoryWebhooks, float64(in.RSSAfterKiB-in.RSSBeforeKiB)/1024, float64(in.RSSBeforeKiB)/1024, float64(in.RSSAfterKiB)/1024)
	}
	if r.Config.ran("writer") {
		wr := r.Writer
		fmt.Fprintf(tw, "writer: drain %d-event backlog\t%.0f/s\t%.0f/s bare CopyFrom\t%.2f\t\n", wr.Events, wr.PerSecond, wr.CopyFromPerSecond, wr.Ratio)
		fmt.Fprintf(tw, "writer: replay of the same events into an emptied table\t%.0f/s\t%.1f s\t\t\n", wr.ReplayPerSecond, wr.ReplaySeconds)
	}
	n := r.Notifier
	if r.Config.ran("notifier-memory") {
		fmt.Fprintf(tw, "notifier: RSS per idle subscribed conn, %d conns\t%.1f KiB\t(goal ≤ 10 KiB)\t\t\n", n.Connections, n.PerConnKiB)
	}
	if r.Config.ran("notifier-latency") {
		fmt.Fprintf(tw, "notifier: POST→websocket at %.0f ev/s, %d subscribers\t%.0f deliveries/s (%d/%d, %d missing)\t\t\t%s\n",
			r.Config.E2ERate, n.AtRate.Subscribers, n.AtRate.DeliveriesSec, n.AtRate.Delivered, n.AtRate.Send.Accepted, n.AtRate.Missing, lat(n.AtRate.Latency))
		fmt.Fprintf(tw, "notifier: POST→websocket flat out, %d subscribers\t%.0f deliveries/s (%d/%d, %d missing)\t\t\t%s\n",
			n.Max.Subscribers, n.Max.DeliveriesSec, n.Max.Delivered, n.Max.Send.Accepted, n.Max.Missing, lat(n.Max.Latency))
	}
	if sc := r.NotifierScale; sc != nil {
		for i, in := range sc.PerInstance {
			fmt.Fprintf(tw, "notifier-scale: instance %d of %d, RSS per idle subscribed conn, %d conns\t%.1f KiB\t(goal ≤ 10 KiB)\t\t\n", i+1, sc.Instances, in.Connections, in.PerConnKiB)
		}
		fmt.Fprintf(tw, "notifier-scale: ramp, %d subscribe round trips from %d clients\t%.1f s\t\t\t\n", sc.Connections, sc.Clients, sc.RampSeconds)
		if sc.Rate > 0 {
			fmt.Fprintf(tw, "notifier-scale: webhook POSTs at %.0f/s for %.0f s\t%.0f/s (%d accepted of %d sent, %.0f due)\t\t\t%s\n",
				sc.Rate, sc.DurationSeconds, sc.Send.PerSecond, sc.Send.Accepted, sc.Send.Sent, sc.Rate*sc.DurationSeconds, lat(sc.Send.Latency))
			for i, in := range sc.PerInstance {
				fmt.Fprintf(tw, "notifier-scale: instance %d, POST→websocket, %d conns\t%s\t\t\t%s\n", i+1, in.Connections, delivered(in.Delivery), lat(in.Delivery.Latency))
			}
			fmt.Fprintf(tw, "notifier-scale: POST→websocket at %.0f ev/s over %d subscribers, %d instances\t%s\t(goal p99 ≤ 50 ms, all delivered)\t\t%s\n",
				sc.Rate, sc.Connections, sc.Instances, delivered(sc.Delivery), lat(sc.Delivery.Latency))
		}
	}
	if r.Config.ran("api") {
		a := r.API
		fmt.Fprintf(tw, "api: POST /Stripe/charge at %.0f/s\t%.0f/s\t%.0f/s stripe-mock direct\t%.2f\t%s (direct %s; overhead p50 %+.2f ms, goal ≤ 1 ms)\n",
			r.Config.APIRate, a.Charge.PerSecond, a.Direct.PerSecond, ratio(a.Charge.PerSecond, a.Direct.PerSecond), lat(a.Charge.Latency), lat(a.Direct.Latency), a.OverheadP50Ms)
		fmt.Fprintf(tw, "api: POST /Stripe/refunds at %.0f/s\t%.0f/s\t%.0f/s stripe-mock direct\t%.2f\t%s (direct %s; overhead p50 %+.2f ms)\n",
			r.Config.APIRate, a.Refund.PerSecond, a.RefundDirect.PerSecond, ratio(a.Refund.PerSecond, a.RefundDirect.PerSecond), lat(a.Refund.Latency), lat(a.RefundDirect.Latency), a.RefundOverheadP50Ms)
	}
	tw.Flush()
}

func delivered(d loadgen.Delivery) string {
	return fmt.Sprintf("%d/%d delivered (%d missing)", d.Delivered, d.Expected, d.Missing)
}

func lat(s loadgen.Summary) string {
	return fmt.Sprintf("%.2f / %.2f ms", s.P50, s.P99)
}

// histogramSVG draws the latency distribution: one bar per log-spaced bucket.
func histogramSVG(s loadgen.Summary, title string) string {
	const w, h, left, bottom, top = 900.0, 360.0, 60.0, 50.0, 40.0
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/><text x="%.0f" y="22" font-size="14">%s</text>`+"\n", left, escape(title))
	// From the first bucket with a sample: the empty fast end says nothing.
	for len(s.Buckets) > 0 && s.Buckets[0] == 0 {
		s.Buckets, s.BucketUpperMs = s.Buckets[1:], s.BucketUpperMs[1:]
	}
	maxN := 0
	for _, n := range s.Buckets {
		maxN = max(maxN, n)
	}
	if maxN == 0 || len(s.Buckets) == 0 {
		b.WriteString(`<text x="60" y="180">no samples</text></svg>`)
		return b.String()
	}
	plotW, plotH := w-left-20, h-top-bottom
	bw := plotW / float64(len(s.Buckets))
	for i, n := range s.Buckets {
		bh := plotH * float64(n) / float64(maxN)
		fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#4a78c2"><title>≤ %.3g ms: %d</title></rect>`+"\n",
			left+float64(i)*bw, top+plotH-bh, math.Max(bw-1, 1), bh, s.BucketUpperMs[i], n)
	}
	// x axis labels at about ten places; y axis: the tallest bar's count.
	step := max(1, len(s.Buckets)/10)
	for i := 0; i < len(s.Buckets); i += step {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%.3g</text>`+"\n", left+float64(i)*bw+bw/2, h-bottom+16, s.BucketUpperMs[i])
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">latency, ms (log-spaced buckets)</text>`+"\n", left+plotW/2, h-12)
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end">%d</text><text x="%.0f" y="%.0f" text-anchor="end">0</text>`+"\n", left-6, top+10, maxN, left-6, top+plotH)
	for _, p := range []struct {
		name string
		v    float64
	}{{"p50", s.P50}, {"p99", s.P99}} {
		x := left + plotW*bucketPos(s, p.v)
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%.0f" y2="%.0f" stroke="#c24a4a" stroke-dasharray="4"/><text x="%.1f" y="%.0f" fill="#c24a4a">%s</text>`+"\n",
			x, x, top, top+plotH, x+3, top+12, p.name)
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// bucketPos is where v falls on the x axis, from 0 to 1.
func bucketPos(s loadgen.Summary, v float64) float64 {
	for i, u := range s.BucketUpperMs {
		if v <= u {
			return (float64(i) + 0.5) / float64(len(s.BucketUpperMs))
		}
	}
	return 1
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
