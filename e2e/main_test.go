package e2e

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
)

// stack is the pipeline every test in this package talks to; each test
// isolates itself by transaction ids of its own.
var (
	stack *devstack.Stack
	dbURL string
	// traces receives the services' spans: the stack runs with tracing on,
	// sampling only the traces a test starts (a sampled traceparent), so the
	// other tests' requests record nothing.
	traces *collector
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp, err := os.MkdirTemp("", "stripeline-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if err := devstack.BuildServices(ctx, filepath.Join(tmp, "bin"), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dbName := "stripeline_e2e_" + devstack.RandomHex(4)
	dbURL = testenv.DatabaseURL(dbName)
	defer testenv.DropDatabase(dbName)

	traces = startCollector()
	defer traces.srv.Close()

	logs := filepath.Join(tmp, "logs")
	_ = os.MkdirAll(logs, 0o755)
	stack, err = devstack.StartStack(ctx, devstack.StackConfig{
		BinDir:      filepath.Join(tmp, "bin"),
		DatabaseURL: dbURL,
		Env: []string{
			"OTEL_EXPORTER_OTLP_ENDPOINT=" + traces.srv.URL,
			"OTEL_TRACES_SAMPLER=parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG=0",
			"OTEL_BSP_SCHEDULE_DELAY=200",
		},
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
	// Every service must stop cleanly on SIGTERM: exit status 0 within its grace.
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
		if len(b) > 8000 {
			b = b[len(b)-8000:]
		}
		fmt.Fprintf(os.Stderr, "==== %s ====\n%s\n", e.Name(), b)
	}
}
