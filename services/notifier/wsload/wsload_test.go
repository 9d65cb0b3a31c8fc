package wsload

import (
	"os"
	"testing"
)

func TestEventIDOfAMessageFrame(t *testing.T) {
	frame := []byte(`{"type":"message","subscription":"s1","channel":"stripe","headers":{"event_id":"evt_1","event_type":"charge.succeeded"},"data":{"id":"evt_1"}}`)
	if got := eventIDOf(frame); got != "evt_1" {
		t.Fatalf("eventIDOf = %q, want evt_1", got)
	}
	if got := eventIDOf([]byte(`{"type":"pong"}`)); got != "" {
		t.Fatalf("eventIDOf(pong) = %q, want empty", got)
	}
}

func TestRSSOfThisProcess(t *testing.T) {
	rss, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if rss < 1<<20 || rss > 1<<34 {
		t.Fatalf("RSS = %d bytes, not a plausible size for a test binary", rss)
	}
}

func TestChargeEventIsStripeSized(t *testing.T) {
	id, body := chargeEvent("ch_1", 7)
	if id != "evt_load_ch_1_7" || len(body) < 3000 || len(body) > 6000 {
		t.Fatalf("event %s of %d bytes, want evt_load_ch_1_7 of 3–6 KB", id, len(body))
	}
}
