// Command ingest-floor serves one of webhook-ingest's floors (package bench,
// floor.go) as a process of its own, for `make bench`: with -brokers, the
// produce floor (every body produced with ingest's producer settings, 200
// once acknowledged); without, the HTTP floor (200 at once). It serves every
// path, through pkg/httpserver with ingest's server limits, and stops on
// SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/tools/bench"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest-floor:", err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:8091", "listen address")
	brokers := flag.String("brokers", "", "comma-separated brokers: serve the produce floor; empty serves the HTTP floor")
	topic := flag.String("topic", "bench.floor", "the produce floor's topic")
	cli.Usage(flag.CommandLine, os.Args[1:], "ingest-floor serves one of webhook-ingest's floors for make bench: with -brokers the produce floor\n(every body produced, 200 once acknowledged), without it the HTTP floor (200 at once). It stops on SIGINT or SIGTERM.\n\nusage: ingest-floor [flags]")
	flag.Parse()

	var handler http.Handler = http.HandlerFunc(bench.AnswerOnly)
	if *brokers != "" {
		client, err := bench.NewProducer(strings.Split(*brokers, ","))
		if err != nil {
			return err
		}
		defer client.Close()
		handler = bench.ProduceOnly(client, *topic)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	return httpserver.Serve(ctx, *addr, handler, bench.FloorLimits(), 5*time.Second, logger)
}
