// Package makerun tests the pipeline as `make run` starts it, from the
// payer's and the newcomer's side: the demo page in a real browser, and the
// README's commands. Its stack is make run's (tools/devstack with the
// development proxy and the demo), on free ports.
package makerun

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
	"github.com/stripeline/stripeline/tools/workspace"
)

var stack *devstack.Stack

func TestMain(m *testing.M) { os.Exit(runMain(m)) }

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "stripeline-makerun-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := devstack.BuildServices(ctx, filepath.Join(tmp, "bin"), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dbName := "stripeline_makerun_" + devstack.RandomHex(4)
	defer testenv.DropDatabase(dbName)
	logs := filepath.Join(tmp, "logs")
	_ = os.MkdirAll(logs, 0o755)
	stack, err = devstack.StartStack(ctx, devstack.StackConfig{
		BinDir:      filepath.Join(tmp, "bin"),
		DatabaseURL: testenv.DatabaseURL(dbName),
		DevProxy:    true,
		Demo:        true,
		Log: func(c string) io.Writer {
			f, err := os.Create(filepath.Join(logs, c+".log"))
			if err != nil {
				return io.Discard
			}
			return f
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		dumpLogs(logs)
		return 1
	}
	code := m.Run()
	if err := stack.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "services did not stop cleanly on SIGTERM:", err)
		code = 1
	}
	if code != 0 {
		dumpLogs(logs)
	}
	return code
}

func dumpLogs(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		fmt.Fprintf(os.Stderr, "==== %s ====\n%s\n", e.Name(), b)
	}
}

// artifacts is where a test run leaves what a person may want to look at
// afterwards (screenshots): STRIPELINE_TEST_ARTIFACTS, or .data/test-artifacts
// in the repository.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STRIPELINE_TEST_ARTIFACTS")
	if dir == "" {
		root, err := workspace.Root()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, ".data", "test-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
