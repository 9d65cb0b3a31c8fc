package hub

import (
	"hash/maphash"
	"slices"
	"sync"
)

// shardCount splits the index and the window's per-id lists: an event waits
// only for work on ids that share one of its shards. 256 shards cost a few
// KiB; at 100,000 ids a shard holds some 400.
const shardCount = 256

// shard is one part of the id index and of the window's per-id lists.
type shard struct {
	mu sync.Mutex
	// byID holds, for each pinned id, its subscriptions: usually one or two,
	// so a slice is both smaller and faster than a set. A subscription
	// knows its index in each of its lists (Subscription.pos).
	byID map[string][]*Subscription
	// recent holds, for each id, the window's events that carry it, oldest
	// first.
	recent map[string][]*Event
}

func (sh *shard) init() {
	sh.byID = map[string][]*Subscription{}
	sh.recent = map[string][]*Event{}
}

// remove takes s out of id's list, where it is at i, by moving the last
// subscription of the list into its place.
func (sh *shard) remove(id string, s *Subscription, i int) {
	list := sh.byID[id]
	last := list[len(list)-1]
	list[i] = last
	last.pos[slices.Index(last.pinned, id)] = i
	list[len(list)-1] = nil
	if list = list[:len(list)-1]; len(list) == 0 {
		delete(sh.byID, id)
	} else {
		sh.byID[id] = list
	}
}

// forget drops ev, the oldest event of id's list, from it.
func (sh *shard) forget(id string, ev *Event) {
	list := sh.recent[id]
	if len(list) > 0 && list[0] == ev {
		list[0] = nil
		list = list[1:]
	}
	if len(list) == 0 {
		delete(sh.recent, id)
	} else {
		sh.recent[id] = list
	}
}

var seed = maphash.MakeSeed()

func shardIndex(id string) int { return int(maphash.String(seed, id) % shardCount) }

func (h *Hub) shardOf(id string) *shard { return &h.shards[shardIndex(id)] }

// shardsOf is the shards of ids, ascending and without repeats: the order
// in which they are locked.
func shardsOf(ids []string) []int {
	out := make([]int, 0, len(ids))
	for _, id := range ids {
		out = append(out, shardIndex(id))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (h *Hub) lock(shards []int) {
	for _, i := range shards {
		h.shards[i].mu.Lock()
	}
}

func (h *Hub) unlock(shards []int) {
	for _, i := range shards {
		h.shards[i].mu.Unlock()
	}
}
