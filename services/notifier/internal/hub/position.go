package hub

import (
	"strconv"
	"sync/atomic"
)

// Position is a place in the topic, Kafka's own and so the same on every
// instance: for each partition (the index), the offset of the last event
// considered, -1 for none. A subscription's frames carry one: every event of
// the subscription at or before it has been sent, or was gone from the
// window when the subscription began (docs/notifier.md, "Exact resume").
type Position []int64

// MaxPartitions bounds the partitions positions cover; events of a partition
// past it have none, and a resume over them is never exact.
const MaxPartitions = 1024

// at is p's offset for partition i, -1 past its end.
func (p Position) at(i int) int64 {
	if i < len(p) {
		return p[i]
	}
	return -1
}

// AppendJSON appends p as a JSON array of numbers.
func (p Position) AppendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, o := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, o, 10)
	}
	return append(b, ']')
}

// offsets is one offset per partition, read and written without a lock;
// each holds offset+1, so that the zero value is "none".
type offsets struct {
	o     [MaxPartitions]atomic.Int64
	parts atomic.Int32 // partitions seen: the highest + 1
}

// raise sets partition p's offset to o unless it is past it already.
func (s *offsets) raise(p int32, o int64) {
	if p < 0 || p >= MaxPartitions || o < -1 {
		return
	}
	for {
		cur := s.o[p].Load()
		if o+1 <= cur || s.o[p].CompareAndSwap(cur, o+1) {
			break
		}
	}
	for {
		n := s.parts.Load()
		if p < n || s.parts.CompareAndSwap(n, p+1) {
			return
		}
	}
}

// get is partition p's offset, -1 for none.
func (s *offsets) get(p int) int64 { return s.o[p].Load() - 1 }

// snapshot is every partition's offset, at least n of them.
func (s *offsets) snapshot(n int) Position {
	n = min(max(n, int(s.parts.Load())), MaxPartitions)
	pos := make(Position, n)
	for i := range pos {
		pos[i] = s.get(i)
	}
	return pos
}
