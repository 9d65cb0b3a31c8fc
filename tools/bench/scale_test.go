package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/loadgen"
)

// Client i is on instance i mod the instances: its tally goes to that
// instance's, and every client's to the overall one.
func TestTallyScaleMergesClientsPerInstance(t *testing.T) {
	ms := int64(time.Millisecond)
	sent := []loadgen.Sent{
		{EventID: "evt_0", Group: 0, At: 0},
		{EventID: "evt_1", Group: 1, At: 0},
		{EventID: "evt_2", Group: 2, At: 0},
		{EventID: "evt_3", Group: 3, At: 0}, // lost
		{EventID: "evt_4", Group: 2, At: 0},
	}
	clients := []loadgen.ReceiptReport{
		{Received: map[string]int64{"evt_0": 1 * ms}},
		{Received: map[string]int64{"evt_1": 2 * ms}},
		{Received: map[string]int64{"evt_2": 3 * ms, "evt_4": 30 * ms}},
		{Received: map[string]int64{}},
	}
	per, all := tallyScale(sent, clients, 2)
	if len(per) != 2 {
		t.Fatalf("%d instances, want 2", len(per))
	}
	for i, want := range []struct{ expected, delivered, samples int }{{3, 3, 3}, {2, 1, 1}} {
		d := per[i].Delivery()
		if d.Expected != want.expected || d.Delivered != want.delivered || d.Latency.Count != want.samples {
			t.Errorf("instance %d: %d/%d delivered, %d samples; want %d/%d, %d", i+1, d.Delivered, d.Expected, d.Latency.Count, want.delivered, want.expected, want.samples)
		}
	}
	if d := per[0].Delivery(); d.Latency.Max != 30 {
		t.Errorf("instance 1 max %.3f ms, want 30", d.Latency.Max)
	}
	d := all.Delivery()
	if d.Expected != 5 || d.Delivered != 4 || d.Missing != 1 || d.Latency.Count != 4 {
		t.Errorf("overall %+v, want 4/5 delivered, 1 missing, 4 samples", d)
	}
}

func TestTableShowsTheScaleDeliveries(t *testing.T) {
	r := &Results{Config: Config{Only: []string{"notifier-scale"}}}
	r.NotifierScale = &NotifierScale{Connections: 6000, Instances: 2, Clients: 2, RampSeconds: 3.2, Rate: 1000, DurationSeconds: 30,
		PerInstance: []ScaleInstance{
			{Connections: 3000, PerConnKiB: 9.5, Delivery: loadgen.Delivery{Expected: 15000, Delivered: 15000}},
			{Connections: 3000, PerConnKiB: 9.7, Delivery: loadgen.Delivery{Expected: 15000, Delivered: 14999, Missing: 1}},
		},
		Delivery: loadgen.Delivery{Expected: 30000, Delivered: 29999, Missing: 1, Latency: loadgen.Summary{P50: 4, P99: 48}},
	}
	r.NotifierScale.Send.PerSecond, r.NotifierScale.Send.Accepted, r.NotifierScale.Send.Sent = 1000, 30000, 30000
	var b bytes.Buffer
	Table(&b, r)
	for _, want := range []string{"ramp, 6000 subscribe round trips", "webhook POSTs at 1000/s for 30 s", "30000 accepted of 30000 sent, 30000 due",
		"instance 2, POST→websocket, 3000 conns", "14999/15000 delivered (1 missing)",
		"at 1000 ev/s over 6000 subscribers, 2 instances", "29999/30000 delivered", "4.00 / 48.00 ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}
