package makerun

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/workspace"
)

// TestJavaScriptClientAcrossANotifierRestart runs the JavaScript client
// (clients/js) in Node against make run's stack: it charges, hears
// charge.succeeded; the notifier restarts (close 1001); the client
// reconnects and resubscribes, the new notifier replays its window, and
// the client still delivers charge.succeeded once; then an event made after
// the restart arrives.
func TestJavaScriptClientAcrossANotifierRestart(t *testing.T) {
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("bash", filepath.Join(root, "deployments", "local", "node.sh")).Output()
	if err != nil {
		t.Fatalf("no Node.js for the client, and deployments/local/node.sh could not install it: %v", err)
	}
	node := strings.TrimSpace(string(out))
	args := []string{}
	if exec.Command(node, "-e", `process.exit(typeof WebSocket === "function" ? 0 : 1)`).Run() != nil {
		args = append(args, "--experimental-websocket")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, append(args, "testdata/client.mjs",
		filepath.Join(root, "clients", "js", "src", "index.js"), stack.URL("api"), stack.Config.APIKey,
		"ws://"+stack.Config.Addrs["notifier"]+"/ws", "charge.refunded")...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []map[string]any
	)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var v map[string]any
			if json.Unmarshal(sc.Bytes(), &v) == nil {
				mu.Lock()
				got = append(got, v)
				mu.Unlock()
			}
		}
	}()
	// waitFor returns the first line with key = value after from (an index).
	waitFor := func(key, value string, from int) int {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			mu.Lock()
			for i := from; i < len(got); i++ {
				if got[i][key] == value {
					mu.Unlock()
					return i
				}
			}
			lines := append([]map[string]any(nil), got...)
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("the client printed no %s %q; it printed %v", key, value, lines)
			}
			select {
			case <-read:
				t.Fatalf("the client ended without printing %s %q; it printed %v", key, value, lines)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	first := waitFor("event", "charge.succeeded", 0)
	mu.Lock()
	chargeID, _ := got[0]["charge"].(string)
	mu.Unlock()

	if err := stack.Service("notifier").Stop(15 * time.Second); err != nil {
		t.Fatalf("notifier did not stop cleanly: %v", err)
	}
	if err := stack.StartService(ctx, "notifier"); err != nil {
		t.Fatal(err)
	}
	reconnected := waitFor("state", "open", first)

	// An event made after the restart, through the development proxy.
	req, _ := http.NewRequest(http.MethodPost, stack.Config.StripeAPIBase+"/_stripeline/trigger",
		strings.NewReader(`{"type":"charge.refunded","id":"`+chargeID+`"}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor("event", "charge.refunded", reconnected)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the client exited: %v", err)
	}
	<-read
	var events []string
	for _, v := range got {
		if e, ok := v["event"].(string); ok {
			events = append(events, e)
		}
		if _, ok := v["error"]; ok {
			t.Errorf("the client reported an error: %v", v)
		}
	}
	if strings.Join(events, ",") != "charge.succeeded,charge.refunded" {
		t.Fatalf("events delivered %v, want charge.succeeded once, then charge.refunded", events)
	}
}
