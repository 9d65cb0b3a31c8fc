// Command stripeline-bench is `make bench`: the pipeline's figures, each
// beside its ceiling measured in the same run. Every size is a flag.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/tools/bench"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "stripeline-bench:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg bench.Config
	flag.StringVar(&cfg.OutDir, "out", "bench", "folder for results.json, latency.svg, binaries and logs")
	flag.StringVar(&cfg.DatabaseURL, "database", "postgres://postgres@127.0.0.1:5432/stripeline_bench?sslmode=disable", "the bench's own database (dropped and created)")
	flag.DurationVar(&cfg.IngestDuration, "ingest-duration", 15*time.Second, "ingest: how long to send")
	flag.IntVar(&cfg.IngestSenders, "ingest-senders", 64, "ingest: concurrent senders")
	flag.IntVar(&cfg.WriterBacklog, "writer-backlog", 100_000, "writer: events in the backlog to drain")
	flag.IntVar(&cfg.Connections, "connections", 10_000, "notifier: idle subscribed connections for the memory figure")
	flag.IntVar(&cfg.E2ESubscribers, "e2e-subscribers", 10_000, "notifier: subscribers connected during the latency runs")
	flag.Float64Var(&cfg.E2ERate, "e2e-rate", 1000, "notifier: webhooks per second in the latency run")
	flag.DurationVar(&cfg.E2EDuration, "e2e-duration", 10*time.Second, "notifier: how long each latency run sends")
	flag.DurationVar(&cfg.APIDuration, "api-duration", 10*time.Second, "api: how long each charge run lasts")
	flag.IntVar(&cfg.APIConcurrency, "api-concurrency", 64, "api: the most requests in flight at once (the rate paces them)")
	flag.Float64Var(&cfg.APIRate, "api-rate", 200, "api: requests per second of each charge and refund run, below saturation")
	flag.Uint64Var(&cfg.Seed, "seed", uint64(time.Now().UnixNano()), "seed of the generated events")
	partitions := flag.Int("partitions", 6, "partitions of the events topic (docker-compose.yml's KAFKA_PARTITIONS default)")
	flag.IntVar(&cfg.ScaleConnections, "scale-connections", 100_000, "notifier-scale: idle subscribed connections in all")
	flag.IntVar(&cfg.ScaleInstances, "scale-instances", 6, "notifier-scale: notifier instances sharing them (at most 17,000 each: 20,000 open files per process)")
	flag.IntVar(&cfg.ScaleClients, "scale-clients", 6, "notifier-scale: load generator processes, each from a loopback address of its own (127.0.0.2, …)")
	only := flag.String("only", "", "comma-separated steps to measure, of "+strings.Join(bench.Steps, ", ")+", and the opt-in "+strings.Join(bench.OptInSteps, ", ")+"; empty measures all but the opt-in ones (use another -out: results.json holds only what ran)")
	cli.Usage(flag.CommandLine, os.Args[1:], "stripeline-bench is make bench: the pipeline's figures, each beside its ceiling measured in the same run.\n\nusage: stripeline-bench [flags]")
	flag.Parse()
	if *only != "" {
		cfg.Only = strings.Split(*only, ",")
	}
	cfg.Partitions = int32(*partitions)
	cfg.Progress = os.Stderr

	r, err := bench.Run(ctx, cfg)
	if r != nil {
		if werr := bench.Write(cfg.OutDir, r); werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		return err
	}
	fmt.Println()
	bench.Table(os.Stdout, r)
	fmt.Printf("\nwritten: %s/results.json, %s/latency.svg\n", cfg.OutDir, cfg.OutDir)
	return nil
}
