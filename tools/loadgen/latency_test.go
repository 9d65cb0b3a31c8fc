package loadgen

import (
	"slices"
	"testing"
	"time"
)

// Completions are binned by ThroughputBin from the first one, as per-second
// rates, with the empty bins of a stall kept.
func TestThroughputBinsCompletions(t *testing.T) {
	bin := int64(ThroughputBin)
	t0 := time.Now().UnixNano()
	at := []int64{t0, t0 + 1, t0 + bin/2, t0 + 3*bin + 1, t0 + 3*bin + 2}
	per := 1 / ThroughputBin.Seconds()
	want := []float64{3 * per, 0, 0, 2 * per}
	if got := throughput(at); !slices.Equal(got, want) {
		t.Errorf("throughput = %v, want %v", got, want)
	}
	if got := throughput(nil); got != nil {
		t.Errorf("throughput of nothing = %v, want nil", got)
	}
}
