package ws

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkIdleConnMemory reports the heap and goroutine stack per idle
// subscribed connection, measured in-process after a GC (RSS adds the
// garbage of the handshakes until the next GC: see docs/notifier.md). The
// heap figure includes the in-process clients' side of each connection; the
// stack figure is the server's alone (the clients run no goroutine), that is
// the reader of each connection, blocked in gorilla's read path (conn.go).
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 2000
	f := start(b, Config{RequireToken: false})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	goroutines := runtime.NumGoroutine()
	conns := make([]*websocket.Conn, 0, n)
	for i := range n {
		c, _, err := (&websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256}).Dial(f.url, nil)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
		if err := c.WriteJSON(map[string]string{"type": "subscribe", "channel": fmt.Sprintf("stripe/ch_%d", i)}); err != nil {
			b.Fatal(err)
		}
		var a serverFrame
		if err := c.ReadJSON(&a); err != nil || a.Type != "subscribed" {
			b.Fatal(a, err)
		}
	}
	for range 3 {
		runtime.GC()
		time.Sleep(100 * time.Millisecond)
	}
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / n
	stack := float64(after.StackInuse-before.StackInuse) / n
	b.ReportMetric(heap, "heap-bytes/conn(server+client)")
	b.ReportMetric(stack, "stack-bytes/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/n, "goroutines/conn")
	for _, c := range conns {
		c.Close()
	}
}
