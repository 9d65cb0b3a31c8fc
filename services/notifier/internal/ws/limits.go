package ws

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// Limit names one bound on what a client may hold; every refusal by one is
// counted (Server.Refused) and named in its close reason or error frame.
type Limit int

// The limits, each with the setting that sets it (docs/notifier.md, "Limits").
const (
	LimitConnections        Limit = iota // NOTIFIER_HTTP_MAX_CONNECTIONS: close 1013
	LimitConnectionsPerAddr              // NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS: close 4029
	LimitConnectionsPerID                // NOTIFIER_MAX_CONNECTIONS_PER_ID: error too_many_connections
	LimitSubscriptions                   // NOTIFIER_MAX_SUBSCRIPTIONS, NOTIFIER_MAX_UNPINNED: error too_many_subscriptions
	LimitSelectorSize                    // NOTIFIER_MAX_SELECTOR_VALUES, _NODES: error selector_too_large
	LimitConnectionBytes                 // NOTIFIER_MAX_CONNECTION_BYTES, at subscribe: error too_many_bytes
	LimitSendQueue                       // NOTIFIER_SEND_QUEUE or NOTIFIER_MAX_CONNECTION_BYTES, at send: close 4008
	LimitFrameSize                       // NOTIFIER_MAX_FRAME_BYTES: close 1009
	limitCount
)

// Limits lists every limit, for metrics.
var Limits = [...]Limit{LimitConnections, LimitConnectionsPerAddr, LimitConnectionsPerID, LimitSubscriptions, LimitSelectorSize, LimitConnectionBytes, LimitSendQueue, LimitFrameSize}

var limitNames = [limitCount]string{"connections", "connections_per_address", "connections_per_id", "subscriptions", "selector_size", "connection_bytes", "send_queue", "frame_size"}

// String is the limit's name in the refused metric's label.
func (l Limit) String() string { return limitNames[l] }

// refusals counts the refusals by each limit.
type refusals [limitCount]atomic.Int64

// counts is how many connections hold each key (a client address, a
// transaction id), bounded by max per key; max 0 counts nothing and bounds
// nothing. Split in shards like the hub, so that connections of other keys
// do not wait for each other.
type counts struct {
	max    int
	shards [64]countShard
}

type countShard struct {
	mu sync.Mutex
	m  map[string]int32
}

var countSeed = maphash.MakeSeed()

func (c *counts) shard(key string) *countShard {
	return &c.shards[maphash.String(countSeed, key)%uint64(len(c.shards))]
}

// acquire counts one more holder of key, unless key has max already.
func (c *counts) acquire(key string) bool {
	if c.max <= 0 {
		return true
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = map[string]int32{}
	}
	if int(sh.m[key]) >= c.max {
		return false
	}
	sh.m[key]++
	return true
}

// release forgets one holder of key.
func (c *counts) release(key string) {
	if c.max <= 0 {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[key]--; sh.m[key] <= 0 {
		delete(sh.m, key)
	}
}
