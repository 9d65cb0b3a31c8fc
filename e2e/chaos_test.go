package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stripeline/stripeline/tools/chaos"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/testenv"
)

// TestChaosSmall is the fault suite's small configuration: a few thousand
// events, every fault once, on a pipeline of its own (own broker process,
// database, ports and data folder), so the shared stack is not disturbed.
// STRIPELINE_CHAOS_SEED replays another seed.
func TestChaosSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes about a minute")
	}
	seed := uint64(20260918)
	if s := os.Getenv("STRIPELINE_CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STRIPELINE_CHAOS_SEED=%q: %v", s, err)
		}
		seed = n
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// The services TestMain built; chaos.Build adds the broker tool.
	for _, s := range devstack.Services {
		if err := os.Symlink(filepath.Join(stack.Config.BinDir, s), filepath.Join(bin, s)); err != nil {
			t.Fatal(err)
		}
	}
	name := "stripeline_chaos_" + devstack.RandomHex(4)
	t.Cleanup(func() { testenv.DropDatabase(name) })

	var out bytes.Buffer
	cfg := chaos.Small(seed)
	cfg.BinDir, cfg.DataDir, cfg.DatabaseURL, cfg.Out = bin, dir, testenv.DatabaseURL(name), &out

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	report, err := chaos.Run(ctx, cfg)
	if err != nil {
		t.Log(out.String())
		dumpChaosLogs(t, filepath.Join(dir, "logs"))
		t.Fatalf("chaos run (seed %d) could not be made: %v", seed, err)
	}
	report.Print(&out)
	t.Log("\n" + out.String())
	if f := report.Failures(); len(f) > 0 {
		dumpChaosLogs(t, filepath.Join(dir, "logs"))
		for _, x := range f {
			t.Errorf("seed %d: %s", seed, x)
		}
	}
	if report.Accepted < cfg.Events {
		t.Errorf("only %d events accepted, want at least %d", report.Accepted, cfg.Events)
	}
	if n := len(chaos.Schedule(cfg)); len(report.Faults) != n {
		t.Errorf("%d faults happened, want %d", len(report.Faults), n)
	}
}

func dumpChaosLogs(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		t.Log(fmt.Sprintf("==== %s (tail) ====\n%s", e.Name(), b))
	}
}
