package chaos

import (
	"reflect"
	"testing"
	"time"
)

func TestScheduleIsRepeatableFromTheSeed(t *testing.T) {
	a, b := Schedule(Small(7)), Schedule(Small(7))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("same seed, different schedules:\n%v\n%v", a, b)
	}
	if c := Schedule(Small(8)); reflect.DeepEqual(a, c) {
		t.Fatalf("seeds 7 and 8 gave the same schedule: %v", a)
	}
}

func TestScheduleHasEveryFaultEachRoundWithinTheStream(t *testing.T) {
	cfg := Full(3)
	cfg.setDefaults()
	s := Schedule(cfg)
	want := map[string]int{
		"kill webhook-ingest": cfg.Rounds, "kill event-writer-1": cfg.Rounds, "kill event-writer-2": cfg.Rounds,
		"kill notifier-1": cfg.Rounds, "kill notifier-2": cfg.Rounds, "restart broker": cfg.Rounds,
		"cut postgres": cfg.Rounds, "duplicates ×200": cfg.Rounds,
	}
	got := map[string]int{}
	stream := time.Duration(float64(cfg.Events) / cfg.Rate * float64(time.Second))
	var last time.Duration
	for _, f := range s {
		got[f.String()]++
		if f.At < last || f.At > stream {
			t.Errorf("%s at %s: out of order or after the stream (%s)", f, f.At, stream)
		}
		last = f.At
		if f.Kind != Duplicates && f.Kind != KillService && f.Down <= 0 {
			t.Errorf("%s has no down time", f)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("faults = %v, want %v", got, want)
	}
}

func TestScheduleOnlyKeepsTheNamedFaults(t *testing.T) {
	cfg := Small(1)
	cfg.Rounds = 3
	cfg.Only = []string{"kill event-writer-2", "duplicates"}
	s := Schedule(cfg)
	if len(s) != 6 {
		t.Fatalf("got %d faults, want 6: %v", len(s), s)
	}
	for _, f := range s {
		if f.String() != "kill event-writer-2" && f.Kind != Duplicates {
			t.Errorf("unexpected fault %s", f)
		}
	}
}
