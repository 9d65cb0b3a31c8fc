// Package bench is the `make bench` harness: it runs the whole pipeline on
// this machine as separate processes, drives it with the load generator (a
// process of its own), and puts each figure beside its ceiling measured in
// the same run on the same broker and database.
package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/tools/devstack"
)

// Config holds every size of the run.
type Config struct {
	OutDir         string        // results.json, latency.svg, logs
	DatabaseURL    string        // a database of the bench's own; dropped and created
	IngestDuration time.Duration // 64 senders of signed webhooks
	IngestSenders  int
	WriterBacklog  int // events drained by the writer
	Connections    int // idle subscribed websocket connections
	E2ESubscribers int
	E2ERate        float64
	E2EDuration    time.Duration
	APIDuration    time.Duration
	APIConcurrency int     // the most requests in flight at once
	APIRate        float64 // requests per second of each api run, below saturation
	Partitions     int32
	// The opt-in notifier-scale step: connections over instances notifiers
	// besides the stack's, opened by clients load generators.
	ScaleConnections, ScaleInstances, ScaleClients int
	// Then webhooks at ScaleRate per second for ScaleDuration, each for a
	// charge one of those connections pinned (0: no deliveries measured).
	ScaleRate     float64
	ScaleDuration time.Duration
	Seed          uint64
	Only          []string // steps to measure (Steps); empty measures every one
	Progress      io.Writer
}

// Steps are the measurements of a run, in the order they run.
var Steps = []string{"notifier-memory", "api", "notifier-latency", "ingest", "writer"}

// OptInSteps run only when named in Only: too large for every run.
var OptInSteps = []string{"notifier-scale"}

// ran says whether the run measures step.
func (c Config) ran(step string) bool {
	if slices.Contains(OptInSteps, step) {
		return slices.Contains(c.Only, step)
	}
	return len(c.Only) == 0 || slices.Contains(c.Only, step)
}

// Results is the machine-readable report (bench/results.json).
type Results struct {
	When     time.Time `json:"when"`
	Machine  Machine   `json:"machine"`
	Config   Config    `json:"config"`
	Ingest   Ingest    `json:"ingest"`
	Writer   Writer    `json:"writer"`
	Notifier Notifier  `json:"notifier"`
	// NotifierScale is the opt-in notifier-scale step's; nil when it did not run.
	NotifierScale *NotifierScale `json:"notifier_scale,omitempty"`
	API           API            `json:"api"`
}

// Machine says where the figures come from.
type Machine struct {
	CPUs   int    `json:"cpus"`
	Model  string `json:"cpu_model"`
	MemGiB int    `json:"mem_gib"`
	Go     string `json:"go"`
	OS     string `json:"os"`
}

type stepper struct {
	w     io.Writer
	start time.Time
}

func (s stepper) printf(format string, args ...any) {
	fmt.Fprintf(s.w, "[%6.1fs] "+format+"\n", append([]any{time.Since(s.start).Seconds()}, args...)...)
}

// Run builds and starts the pipeline, measures every figure, and writes the
// results into cfg.OutDir.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	for _, o := range cfg.Only {
		if !slices.Contains(Steps, o) && !slices.Contains(OptInSteps, o) {
			return nil, fmt.Errorf("no step %q: the steps are %s", o, strings.Join(slices.Concat(Steps, OptInSteps), ", "))
		}
	}
	log := stepper{w: cfg.Progress, start: time.Now()}
	raiseFileLimit()
	if err := os.MkdirAll(filepath.Join(cfg.OutDir, "logs"), 0o755); err != nil {
		return nil, err
	}
	bin, err := filepath.Abs(filepath.Join(cfg.OutDir, "bin"))
	if err != nil {
		return nil, err
	}
	log.printf("building the services and the load generator")
	if err := devstack.BuildServices(ctx, bin, os.Stderr, "github.com/stripeline/stripeline/tools/cmd/stripeline-load",
		"github.com/stripeline/stripeline/tools/cmd/ingest-floor"); err != nil {
		return nil, err
	}
	if err := resetDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	brokerData, err := os.MkdirTemp("", "stripeline-bench-kafka-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(brokerData)

	log.printf("starting the pipeline")
	stack, err := devstack.StartStack(ctx, devstack.StackConfig{
		BinDir: bin, DatabaseURL: cfg.DatabaseURL, BrokerData: brokerData, Partitions: cfg.Partitions,
		// The load client opens every connection from loopback: one
		// address, far past the notifier's default per-address limit. The
		// api step sends 200 payments/s with one key from one address: the
		// api's rate limits (20/s a key, 2/s an address) would measure 429s.
		Env: []string{"LOG_LEVEL=warn", "NOTIFIER_MAX_CONNECTIONS_PER_ADDRESS=0",
			"API_RATE_PER_KEY_RPS=0", "API_RATE_PER_ADDRESS_RPS=0"},
		Log: func(c string) io.Writer {
			f, err := os.Create(filepath.Join(cfg.OutDir, "logs", c+".log"))
			if err != nil {
				return io.Discard
			}
			return f
		},
	})
	if err != nil {
		return nil, err
	}
	defer stack.Close()

	r := &Results{When: time.Now().UTC(), Machine: machine(), Config: cfg}
	b := &run{cfg: cfg, stack: stack, bin: bin, log: log}
	steps := []struct {
		name string
		fn   func(context.Context, *Results) error
	}{
		// Memory first, while no event has reached the notifier's window;
		// latency before ingest, which pauses the notifier and leaves it a
		// backlog to read.
		{"notifier-memory", b.notifierMemory},
		{"api", b.api},
		{"notifier-latency", b.notifierLatency},
		{"ingest", b.ingest},
		{"writer", b.writer},
		{"notifier-scale", b.notifierScale},
	}
	for _, s := range steps {
		if !cfg.ran(s.name) {
			continue
		}
		log.printf("measuring %s", s.name)
		if err := s.fn(ctx, r); err != nil {
			return r, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return r, nil
}

type run struct {
	cfg   Config
	stack *devstack.Stack
	bin   string
	log   stepper
}

// load runs the load generator with args and decodes the last JSON object it
// printed into out.
func (b *run) load(ctx context.Context, out any, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "stripeline-load"), args...)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = b.cfg.Progress
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("stripeline-load %s: %w", args[0], err)
	}
	return lastJSON(stdout.Bytes(), out)
}

func lastJSON(b []byte, out any) error {
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	if len(lines) == 0 || len(lines[len(lines)-1]) == 0 {
		return fmt.Errorf("no result printed")
	}
	return json.Unmarshal(lines[len(lines)-1], out)
}

func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

func machine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) == nil {
		m.MemGiB = int((uint64(si.Totalram)*uint64(si.Unit) + (1 << 29)) >> 30)
	}
	return m
}

// rssKiB reads a process's resident set size.
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), "%d kB", &kb)
			return kb, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
