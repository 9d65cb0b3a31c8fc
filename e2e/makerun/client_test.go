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
// charge.succeeded; the notifier stops (close 1001), and while it is down
// the charge is captured; the notifier starts again and the client
// reconnects and resubscribes from its position: the new notifier sends
// charge.captured and nothing the client had read (recovered true, no
// duplicate for the client's dedupe to drop); then an event made after the
// restart arrives.
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

	// trigger has the development proxy send one event about the charge.
	trigger := func(typ string) {
		t.Helper()
		resp, err := http.Post(stack.Config.StripeAPIBase+"/_stripeline/trigger", "application/json",
			strings.NewReader(`{"type":"`+typ+`","id":"`+chargeID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("trigger %s: %s", typ, resp.Status)
		}
	}

	if err := stack.Service("notifier").Stop(15 * time.Second); err != nil {
		t.Fatalf("notifier did not stop cleanly: %v", err)
	}
	// An event made while no notifier runs: the resume must bring it.
	trigger("charge.captured")
	if err := stack.StartService(ctx, "notifier"); err != nil {
		t.Fatal(err)
	}
	reconnected := waitFor("state", "open", first)
	waitFor("event", "charge.captured", first)

	// An event made after the restart.
	trigger("charge.refunded")
	waitFor("event", "charge.refunded", reconnected)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the client exited: %v", err)
	}
	<-read
	var events []string
	for _, v := range got {
		if e, ok := v["event"].(string); ok {
			t.Logf("delivered: %v", v)
			events = append(events, e)
			// Every event came over the websocket with its position; after
			// the restart, from a resume the notifier answered
			// recovered: true, and the notifier sent nothing twice.
			if v["position"] == nil || v["catch_up"] != false || v["duplicates"] != float64(0) {
				t.Errorf("event %v: want a position, no catch-up over HTTP, and no duplicate dropped by the client", v)
			}
			if e != "charge.succeeded" && v["recovered"] != true {
				t.Errorf("event %v after the restart: want recovered true (a resume from the position)", v)
			}
		}
		if _, ok := v["error"]; ok {
			t.Errorf("the client reported an error: %v", v)
		}
		if _, ok := v["gap"]; ok {
			t.Errorf("the client reported a gap: %v", v)
		}
	}
	if strings.Join(events, ",") != "charge.succeeded,charge.captured,charge.refunded" {
		t.Fatalf("events delivered %v, want charge.succeeded, charge.captured (made while the notifier was down), charge.refunded, each once", events)
	}
}
