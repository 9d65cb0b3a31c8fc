package loadgen

import (
	"math"
	"slices"
	"sync"
	"time"
)

// Latencies collects durations from many goroutines, and when each was
// recorded: the throughput over time.
type Latencies struct {
	mu sync.Mutex
	d  []time.Duration
	at []int64 // Unix nanoseconds of each Add
}

// Add records one duration, completed now.
func (l *Latencies) Add(d time.Duration) {
	now := time.Now().UnixNano()
	l.mu.Lock()
	l.d = append(l.d, d)
	l.at = append(l.at, now)
	l.mu.Unlock()
}

// ThroughputBin is the width of Summary.Throughput's bins.
const ThroughputBin = 500 * time.Millisecond

// Summary is a latency distribution in milliseconds.
type Summary struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
	Mean  float64 `json:"mean_ms"`
	// Histogram has log-spaced buckets: Buckets[i] counts samples of at most
	// BucketUpperMs[i] milliseconds (and above the previous bound).
	BucketUpperMs []float64 `json:"bucket_upper_ms,omitempty"`
	Buckets       []int     `json:"buckets,omitempty"`
	// Throughput is completions per second over time, in bins of
	// ThroughputBin from the first completion: warm-up and stalls show.
	Throughput []float64 `json:"throughput_per_s,omitempty"`
}

// Summary sorts the samples and reads the percentiles, and bins the
// completions over time (Throughput).
func (l *Latencies) Summary() Summary {
	l.mu.Lock()
	d := slices.Clone(l.d)
	at := slices.Clone(l.at)
	l.mu.Unlock()
	s := Summarize(d)
	s.Throughput = throughput(at)
	return s
}

// throughput is completions per second in ThroughputBin bins from the
// first completion to the last.
func throughput(at []int64) []float64 {
	if len(at) == 0 {
		return nil
	}
	first, last := slices.Min(at), slices.Max(at)
	bin := int64(ThroughputBin)
	out := make([]float64, (last-first)/bin+1)
	for _, t := range at {
		out[(t-first)/bin]++
	}
	for i := range out {
		out[i] /= ThroughputBin.Seconds()
	}
	return out
}

// Summarize is Summary of a slice of durations.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	slices.Sort(d)
	var sum time.Duration
	for _, x := range d {
		sum += x
	}
	ms := func(x time.Duration) float64 { return math.Round(float64(x)/1e3) / 1e3 }
	at := func(q float64) float64 { return ms(d[min(len(d)-1, int(q*float64(len(d))))]) }
	s := Summary{Count: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(d[len(d)-1]), Mean: ms(sum / time.Duration(len(d)))}
	// Buckets from 0.05 ms, ×1.25 each, up to the maximum.
	upper := 0.05
	i := 0
	for i < len(d) {
		n := 0
		for i < len(d) && float64(d[i])/1e6 <= upper {
			n++
			i++
		}
		s.BucketUpperMs = append(s.BucketUpperMs, math.Round(upper*1000)/1000)
		s.Buckets = append(s.Buckets, n)
		upper *= 1.25
	}
	return s
}
