package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/tools/devstack"
)

// TestWebsocketDocument runs every exchange of docs/websocket.md (its
// ```websocket blocks) against the pipeline's notifier, each on a connection
// of its own, with real signed webhooks through webhook-ingest and Kafka;
// then it checks that every other frame written in the document (tables,
// prose, other code blocks) matches a frame really sent or received.
func TestWebsocketDocument(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "websocket.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	blocks := wsBlocks(doc)
	if len(blocks) < 5 {
		t.Fatalf("docs/websocket.md has %d websocket blocks; the test cannot have found them", len(blocks))
	}
	run := &docRun{suffix: "_" + devstack.RandomHex(4)}
	for i, b := range blocks {
		t.Run(fmt.Sprintf("block%d_line%d", i+1, b.line), func(t *testing.T) { run.block(t, b) })
	}
	if t.Failed() {
		return
	}
	rest := wsBlockRE.ReplaceAllString(doc, "")
	inline := inlineFrames(rest)
	if len(inline) < 8 {
		t.Fatalf("found %d inline frames in docs/websocket.md; the test cannot have found them", len(inline))
	}
	for _, ex := range inline {
		var pattern any
		if err := json.Unmarshal([]byte(run.mapIDs(ex)), &pattern); err != nil {
			t.Errorf("frame example %s is not JSON: %v", ex, err)
			continue
		}
		found := false
		for _, f := range run.seen {
			if matchFrame(pattern, f) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("frame example %s matches no frame exchanged with the notifier", ex)
		}
	}
}

// repoRoot is the repository's top folder (e2e is one of its modules).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := devstack.WorkspaceRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

type wsBlock struct {
	line  int // of the opening fence, 1-based
	lines []string
}

var wsBlockRE = regexp.MustCompile("(?ms)^```websocket\n(.*?)^```")

func wsBlocks(doc string) []wsBlock {
	var out []wsBlock
	for _, m := range wsBlockRE.FindAllStringSubmatchIndex(doc, -1) {
		out = append(out, wsBlock{
			line:  strings.Count(doc[:m[0]], "\n") + 1,
			lines: strings.Split(strings.TrimRight(doc[m[2]:m[3]], "\n"), "\n"),
		})
	}
	return out
}

// inlineFrames finds the JSON objects with a "type" member written outside
// the websocket blocks.
func inlineFrames(doc string) []string {
	var out []string
	for i := 0; i < len(doc); i++ {
		if !strings.HasPrefix(doc[i:], `{"type":`) {
			continue
		}
		depth, inString := 0, false
		for j := i; j < len(doc); j++ {
			switch c := doc[j]; {
			case inString && c == '\\':
				j++
			case c == '"':
				inString = !inString
			case !inString && c == '{':
				depth++
			case !inString && c == '}':
				depth--
				if depth == 0 {
					out = append(out, doc[i:j+1])
					i = j
					j = len(doc)
				}
			}
		}
	}
	return out
}

// docRun is one run of the document: the ids it wrote (ch_1, evt_1, …) get
// a suffix of this run's, so that the shared pipeline's window holds no
// event of an earlier run or another test under the same id.
type docRun struct {
	suffix string
	seen   []any // every frame sent and received, decoded
}

var docIDRE = regexp.MustCompile(`\b((?:ch|pi|evt)_[0-9]+)\b`)

func (r *docRun) mapIDs(s string) string { return docIDRE.ReplaceAllString(s, "${1}"+r.suffix) }

var tokenRE = regexp.MustCompile(`<(expired )?token for ([^ >]+)(?: expiring in (\d+) s)?>`)

// expand puts real ids and tokens into a line of the document.
func (r *docRun) expand(line string) string {
	line = r.mapIDs(line)
	return tokenRE.ReplaceAllStringFunc(line, func(m string) string {
		sub := tokenRE.FindStringSubmatch(m)
		expires := time.Now().Add(time.Hour)
		if sub[1] != "" {
			expires = time.Now().Add(-time.Minute)
		}
		if sub[3] != "" {
			secs, _ := strconv.Atoi(sub[3])
			expires = time.Now().Add(time.Duration(secs) * time.Second)
		}
		return subtoken.Sign([]byte(stack.Config.SubscriptionTokenSecret), sub[2], expires)
	})
}

var (
	sendRE     = regexp.MustCompile(`^→ (?:(\d+) × )?(\{.*\})$`)
	sendSizeRE = regexp.MustCompile(`^→ \(a frame of (\d+) bytes\)$`)
	recvRE     = regexp.MustCompile(`^← (?:(\d+) × )?(\{.*\})$`)
	closeRE    = regexp.MustCompile(`^← close (\d+)$`)
	webhookRE  = regexp.MustCompile(`^Stripe → (\{.*\})$`)
)

func (r *docRun) block(t *testing.T, b wsBlock) {
	c := dial(t)
	for i, raw := range b.lines {
		line := r.expand(raw)
		where := fmt.Sprintf("docs/websocket.md:%d: %s", b.line+1+i, raw)
		switch {
		case strings.TrimSpace(line) == "":
		case sendRE.MatchString(line):
			m := sendRE.FindStringSubmatch(line)
			var v any
			if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
				t.Fatalf("%s: not JSON: %v", where, err)
			}
			for range times(m[1]) {
				if err := c.WriteMessage(websocket.TextMessage, []byte(m[2])); err != nil {
					t.Fatalf("%s: %v", where, err)
				}
				r.seen = append(r.seen, v)
			}
		case sendSizeRE.MatchString(line):
			n, _ := strconv.Atoi(sendSizeRE.FindStringSubmatch(line)[1])
			pad := strings.Repeat("x", max(0, n-len(`{"type":"ping","pad":""}`)))
			if err := c.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping","pad":"`+pad+`"}`)); err != nil {
				t.Fatalf("%s: %v", where, err)
			}
		case recvRE.MatchString(line):
			m := recvRE.FindStringSubmatch(line)
			var want any
			if err := json.Unmarshal([]byte(m[2]), &want); err != nil {
				t.Fatalf("%s: not JSON: %v", where, err)
			}
			for range times(m[1]) {
				got := readFrame(t, c, where)
				var v any
				if err := json.Unmarshal(got, &v); err != nil {
					t.Fatalf("%s: the notifier sent %s, not JSON: %v", where, got, err)
				}
				r.seen = append(r.seen, v)
				if !matchFrame(want, v) {
					t.Fatalf("%s:\nthe notifier sent %s", where, got)
				}
			}
		case closeRE.MatchString(line):
			want, _ := strconv.Atoi(closeRE.FindStringSubmatch(line)[1])
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, got, err := c.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != want {
				t.Fatalf("%s: read %q, %v; want close %d", where, got, err, want)
			}
		case webhookRE.MatchString(line):
			postWebhook(t, []byte(webhookRE.FindStringSubmatch(line)[1]), http.StatusOK)
		case line == "the notifier shuts down":
			stopped := make(chan error, 1)
			go func() { stopped <- stack.Service("notifier").Stop(15 * time.Second) }()
			t.Cleanup(func() {
				if err := <-stopped; err != nil {
					t.Errorf("the notifier did not stop cleanly: %v", err)
				}
				// The other tests share the pipeline: bring it back.
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				if err := stack.StartService(ctx, "notifier"); err != nil {
					t.Errorf("restart the notifier: %v", err)
				}
			})
		default:
			t.Fatalf("%s: a line the test does not know; every line of a websocket block must be checkable", where)
		}
	}
	// Nothing the block did not show may follow: a ping's pong comes next.
	if len(b.lines) > 0 && !closeRE.MatchString(b.lines[len(b.lines)-1]) {
		if err := c.WriteJSON(map[string]string{"type": "ping"}); err != nil {
			t.Fatal(err)
		}
		if got := readFrame(t, c, "after the block"); string(got) != `{"type":"pong"}` {
			t.Fatalf("docs/websocket.md:%d: after the block's last frame the notifier sent %s, which the block does not show", b.line, got)
		}
	}
}

func times(n string) int {
	if n == "" {
		return 1
	}
	v, _ := strconv.Atoi(n)
	return v
}

func readFrame(t *testing.T, c *websocket.Conn, where string) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("%s: read: %v", where, err)
	}
	return b
}

// matchFrame reports whether got is what the document's want says: "…"
// is any value, a string with … in it any string that reads the same
// around it, and an object with a "…" member may have members it does not
// list (one without must have exactly its members).
func matchFrame(want, got any) bool {
	switch w := want.(type) {
	case string:
		if w == "…" {
			return true
		}
		g, ok := got.(string)
		if !ok {
			return false
		}
		return globMatch(w, g)
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return false
		}
		_, open := w["…"]
		for k, wv := range w {
			if k == "…" {
				continue
			}
			gv, ok := g[k]
			if !ok || !matchFrame(wv, gv) {
				return false
			}
		}
		if !open {
			for k := range g {
				if _, ok := w[k]; !ok {
					return false
				}
			}
		}
		return true
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return false
		}
		for i := range w {
			if !matchFrame(w[i], g[i]) {
				return false
			}
		}
		return true
	default:
		return want == got
	}
}

// globMatch matches s against pattern, where … is any run of characters.
func globMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "…")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, p := range parts[1 : len(parts)-1] {
		i := strings.Index(s, p)
		if i < 0 {
			return false
		}
		s = s[i+len(p):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
