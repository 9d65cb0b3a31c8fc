// Command event-writer-bench measures event-writer's backlog drain against a
// bare COPY of the same rows (package drainbench) and prints both rates.
//
//	go run github.com/stripeline/stripeline/services/event-writer/cmd/event-writer-bench [-events 100000] [-json]
//
// Without -brokers it starts the embedded broker, persisted in a temporary
// folder (in memory, 100k events of 3 KB would take gigabytes).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/services/event-writer/drainbench"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "event-writer-bench:", err)
		os.Exit(1)
	}
}

func realMain(ctx context.Context) error {
	var cfg drainbench.Config
	brokers := flag.String("brokers", "", "Kafka brokers, comma-separated; empty starts the embedded one")
	flag.StringVar(&cfg.ServerURL, "postgres", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "PostgreSQL server URL")
	flag.IntVar(&cfg.Events, "events", 100000, "events in the backlog")
	flag.IntVar(&cfg.BatchSize, "batch-size", 1000, "EVENT_WRITER_BATCH_SIZE")
	flag.IntVar(&cfg.Transactions, "transactions", 3, "EVENT_WRITER_TRANSACTIONS")
	asJSON := flag.Bool("json", false, "print the result as JSON")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	cli.Usage(flag.CommandLine, os.Args[1:], "event-writer-bench measures event-writer's backlog drain against a bare COPY of the same rows and prints both rates.\nWithout -brokers it starts the embedded broker in a temporary folder.\n\nusage: event-writer-bench [flags]")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	brokerList, stop, err := devstack.BrokersOr(*brokers)
	if err != nil {
		return err
	}
	defer stop()
	cfg.Brokers = brokerList
	res, err := drainbench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(os.Stdout).Encode(res)
	}
	fmt.Println(res)
	return nil
}
