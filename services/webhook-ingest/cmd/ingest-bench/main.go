// Command ingest-bench prints webhook-ingest's throughput and latency next to
// a bare Sarama producer's and its own Publisher's against the same broker,
// and what silent connections cost it in memory (package bench). Without
// -brokers it starts an embedded broker with its data in a temporary folder,
// as `make run` does.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/services/webhook-ingest/bench"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "ingest-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg bench.Config
	brokers := flag.String("brokers", "", "comma-separated broker addresses; empty starts an embedded broker")
	asJSON := flag.Bool("json", false, "print the report as JSON")
	flag.StringVar(&cfg.EventsDir, "events", "services/webhook-ingest/testdata/events", "folder of real event shapes")
	flag.IntVar(&cfg.Senders, "senders", 64, "concurrent HTTP senders")
	flag.IntVar(&cfg.Messages, "messages", 20000, "messages per measurement")
	flag.IntVar(&cfg.BatchSize, "batch", 500, "batch size of the bare producer")
	flag.BoolVar(&cfg.Floors, "floors", false, "also measure the HTTP floor and the HTTP + produce floor (bench/floor.go)")
	flag.IntVar(&cfg.SilentSockets, "silent-sockets", 300, "first measure the memory that many silent connections declaring 1 MiB bodies cost (bench/memory.go); 0 skips it")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the ingest measurement to this file")
	cli.Usage(flag.CommandLine, os.Args[1:], "ingest-bench prints webhook-ingest's throughput and latency next to a bare Sarama producer's and its own Publisher's\nagainst the same broker, and what silent connections cost it in memory. Without -brokers it starts an embedded broker.\n\nusage: ingest-bench [flags]")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.CPUProfile = f
	}

	brokerList, stop, err := devstack.BrokersOr(*brokers)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Brokers = brokerList
	r, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(r)
	}
	fmt.Print(r)
	return nil
}
