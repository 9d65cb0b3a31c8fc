package app

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/notifier/internal/hub"
	"github.com/stripeline/stripeline/services/notifier/internal/ws"
)

// Two notifiers in one process each export their own gauges: with the
// former sync.Once on the default registry, the second one exported the
// first one's.
func TestTwoNotifiersExportTheirOwnMetrics(t *testing.T) {
	var (
		hubs []*hub.Hub
		regs []*prometheus.Registry
	)
	for range 2 {
		h := hub.New(hub.Config{Window: time.Hour, WindowMaxBytes: 1 << 20})
		reg := httpserver.NewRegistry()
		if _, err := NewMetrics(reg, h, ws.NewServer(ws.Config{}, h, slog.New(slog.DiscardHandler))); err != nil {
			t.Fatal(err)
		}
		hubs, regs = append(hubs, h), append(regs, reg)
	}
	// Only the first notifier sees events.
	for _, id := range []string{"evt_1", "evt_2", "evt_3"} {
		hubs[0].Publish(hub.NewEvent(stripeevent.Envelope{ID: id, Type: "charge.succeeded", ObjectID: "ch_" + id, ObjectType: "charge"},
			map[string]string{"event_id": id}, []byte(`{"id":"`+id+`"}`), time.Now()))
	}
	want := func(events int) string {
		return `
# HELP notifier_window_events Events in the recent window.
# TYPE notifier_window_events gauge
notifier_window_events ` + strconv.Itoa(events) + `
`
	}
	for i, n := range []int{3, 0} {
		if err := testutil.GatherAndCompare(regs[i], strings.NewReader(want(n)), "notifier_window_events"); err != nil {
			t.Errorf("notifier %d: %v", i, err)
		}
	}
	// Both export every gauge, plus the Go and process collectors.
	for i, reg := range regs {
		for _, name := range []string{"notifier_connections", "notifier_subscriptions_pinned", "notifier_subscriptions_unpinned", "notifier_window_bytes", "go_goroutines"} {
			if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
				t.Errorf("notifier %d: %s counted %d (%v), want 1", i, name, n, err)
			}
		}
	}
}
