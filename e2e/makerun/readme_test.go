package makerun

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/workspace"
)

// notRun are the README's commands this test does not run, and why.
var notRun = map[string]string{
	"make run":  "this package's stack is the one make run starts (devstack with the development proxy and the demo)",
	"make test": "it is what runs this test",
	"stripe listen --forward-to localhost:8081/webhooks/stripe": "it needs a Stripe account and the Stripe CLI",
}

var shBlock = regexp.MustCompile("(?ms)^[ \t]*```sh\n(.*?)^[ \t]*```")

// TestReadmeCommands runs the README's five-minute walk against make run's
// stack: every command in its sh blocks, as printed, but for the addresses
// (this stack's free ports for make run's fixed ones) and `go run` of
// stripeline-dev (a binary built once). The API key comes from .data/api-key
// as make run leaves it, in a folder of the test's own.
func TestReadmeCommands(t *testing.T) {
	root, err := workspace.Root()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".data", "api-key"), []byte(stack.Config.APIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dev := filepath.Join(dir, "stripeline-dev")
	build := exec.Command("go", "build", "-o", dev, "./tools/cmd/stripeline-dev")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build stripeline-dev: %v\n%s", err, out)
	}
	proxy := strings.TrimPrefix(stack.Config.StripeAPIBase, "http://")
	rewrite := strings.NewReplacer(
		"localhost:8080", stack.Config.Addrs["api"],
		"go run ./tools/cmd/stripeline-dev listen", dev+" listen --notifier ws://"+stack.Config.Addrs["notifier"]+"/ws",
		"go run ./tools/cmd/stripeline-dev trigger", dev+" trigger --proxy "+proxy,
	)

	var (
		exports []string
		listen  *lines
		ran     int
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, block := range shBlock.FindAllStringSubmatch(string(readme), -1) {
		for _, raw := range strings.Split(block[1], "\n") {
			line := strings.TrimSpace(raw)
			if i := strings.Index(line, " #"); i >= 0 { // a comment after the command
				line = strings.TrimSpace(line[:i])
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if _, ok := notRun[line]; ok {
				continue
			}
			cmd := rewrite.Replace(line)
			script := strings.Join(append(exports, cmd), "\n")
			switch {
			case strings.HasPrefix(line, "export "):
				exports = append(exports, cmd)
			case strings.HasPrefix(line, "curl "):
				out := run(t, ctx, dir, script)
				var answer struct {
					ID        string
					Subscribe *struct{ Token string }
					Error     *struct{ Code string }
				}
				if err := json.Unmarshal(out, &answer); err != nil && len(out) > 0 {
					t.Fatalf("README: %s\nprinted %s, not the api's JSON", line, out)
				}
				if strings.Contains(line, "> ") { // the answer went to a file
					b, err := os.ReadFile(filepath.Join(dir, strings.TrimSpace(line[strings.LastIndex(line, ">")+1:])))
					if err != nil || json.Unmarshal(b, &answer) != nil {
						t.Fatalf("README: %s\nwrote %s (%v)", line, b, err)
					}
				}
				declined := strings.Contains(line, "tok_chargeDeclined")
				if declined && (answer.Error == nil || answer.Error.Code != "card_declined") {
					t.Errorf("README: %s\nanswered %s, want a card_declined error", line, out)
				}
				if !declined && (answer.Subscribe == nil || !strings.HasPrefix(answer.ID, "ch_")) {
					t.Errorf("README: %s\nanswered %s, want a charge with its subscribe block", line, out)
				}
			case strings.Contains(line, "stripeline-dev listen"):
				// exec: the command is the process the test stops, not a child of bash.
				listen = start(t, ctx, dir, strings.Join(append(exports, "exec "+cmd), "\n"))
				listen.wait(t, `"event_type":"charge.succeeded"`, line)
			case strings.Contains(line, "stripeline-dev trigger charge.refunded"):
				run(t, ctx, dir, script)
				if listen == nil {
					t.Fatalf("README: %s comes before the listen it feeds", line)
				}
				listen.wait(t, `"event_type":"charge.refunded"`, line)
			default:
				t.Errorf("README: %s\nis a command this test does not run; check it here or list it in notRun with the reason", line)
				continue
			}
			ran++
		}
	}
	if ran < 5 {
		t.Fatalf("ran %d of the README's commands; its sh blocks were not found", ran)
	}
}

func run(t *testing.T, ctx context.Context, dir, script string) []byte {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("README command failed: %v\n%s\n%s%s", err, script, out, stderr)
	}
	return out
}

// lines is a command's output, kept as it comes.
type lines struct {
	mu   sync.Mutex
	text []string
	done chan struct{}
}

func start(t *testing.T, ctx context.Context, dir, script string) *lines {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	l := &lines{done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.text = append(l.text, sc.Text())
			l.mu.Unlock()
		}
	}()
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	return l
}

// wait returns once a line has want in it, and fails the test if the
// command ends first or a minute passes.
func (l *lines) wait(t *testing.T, want, what string) {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		l.mu.Lock()
		for _, s := range l.text {
			if strings.Contains(s, want) {
				l.mu.Unlock()
				return
			}
		}
		got := strings.Join(l.text, "\n")
		l.mu.Unlock()
		select {
		case <-l.done:
			t.Fatalf("README: %s\nended without printing %s; it printed:\n%s", what, want, got)
		case <-deadline:
			t.Fatalf("README: %s\nprinted no %s within a minute; it printed:\n%s", what, want, got)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
