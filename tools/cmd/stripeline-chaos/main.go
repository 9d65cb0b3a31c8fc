// Command stripeline-chaos is the fault suite (`make chaos`): the pipeline as
// separate processes, a steady stream of signed webhooks, websocket
// subscribers, and on a schedule drawn from -seed: SIGKILLs, a broker
// restart, a PostgreSQL outage and duplicate deliveries. It prints a table
// and exits 1 when a check fails. See docs/chaos.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/chaos"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	failed, err := realMain(ctx, os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return // -h: the usage is printed
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "stripeline-chaos:", err)
		os.Exit(2)
	}
	if failed {
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) (failed bool, err error) {
	fs := flag.NewFlagSet("stripeline-chaos", flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-chaos is the fault suite (make chaos): the pipeline as separate processes, a steady stream of\n"+
		"signed webhooks, websocket subscribers and, on a schedule drawn from -seed, SIGKILLs, a broker restart, a PostgreSQL\n"+
		"outage and duplicate deliveries. It prints a table and exits 1 when a check fails (docs/chaos.md).\n\n"+
		"usage: stripeline-chaos [flags]")
	small := fs.Bool("small", false, "start from the small configuration (the one make test runs) instead of the full one")
	seed := fs.Uint64("seed", 0, "seed of the events and the fault schedule (0: a random one, printed)")
	data := fs.String("data", ".data/chaos", "folder for binaries, the broker's data and the logs")
	db := fs.String("database", "postgres://postgres@127.0.0.1:5432/stripeline_chaos?sslmode=disable",
		"PostgreSQL URL; the database is dropped and recreated, so its name must contain \"chaos\"")
	keep := fs.Bool("keep", false, "keep the database after the run")
	figure := fs.String("timeline", "", "where to draw the run's timeline (SVG: faults as bands, accepted/stored/delivered rates, heal times); default timeline.svg in -data")
	// Flags for every size; zero keeps the configuration's value.
	var c chaos.Config
	fs.IntVar(&c.Events, "events", 0, "at least this many events (full 20000, small 2000)")
	fs.Float64Var(&c.Rate, "rate", 0, "new events per second (full 100, small 50)")
	fs.IntVar(&c.Subscribers, "subscribers", 0, "websocket subscribers (full 100, small 16)")
	fs.Float64Var(&c.SubscribedShare, "subscribed-share", 0, "share of events for a subscriber's transaction (0.5)")
	fs.IntVar(&c.Rounds, "rounds", 0, "every fault this many times (full 3, small 1)")
	fs.IntVar(&c.Duplicates, "duplicates", 0, "events re-sent by each duplicate-delivery fault (full 200, small 30)")
	fs.IntVar(&c.Writers, "writers", 0, "event-writer instances (2)")
	fs.IntVar(&c.Notifiers, "notifiers", 0, "notifier instances (2)")
	fs.IntVar(&c.Partitions, "partitions", 0, "partitions of the topic (4)")
	fs.DurationVar(&c.ServiceDown, "service-down", 0, "most a killed service stays down (1.5s)")
	fs.DurationVar(&c.BrokerDown, "broker-down", 0, "how long the broker stays down (2s)")
	fs.DurationVar(&c.PostgresOutage, "postgres-outage", 0, "how long PostgreSQL is cut off (3s)")
	fs.DurationVar(&c.MaxBackoff, "max-backoff", 0, "cap of the sender's retry backoff (2s)")
	fs.DurationVar(&c.HealTimeout, "heal-timeout", 0, "a fault not healed within this fails the run (90s)")
	fs.DurationVar(&c.DrainTimeout, "drain-timeout", 0, "how long stores and deliveries may take after the stream (90s)")
	fs.DurationVar(&c.RecoveryWindow, "recovery-window", 0, "the notifiers' recovery window (10m)")
	fs.BoolVar(&c.LenientDelivery, "lenient-delivery", false, "report missed subscriber deliveries without failing")
	fs.Func("env", "KEY=VALUE added to every service's environment (repeatable), e.g. -env NOTIFIER_WINDOW=0", func(v string) error {
		if !strings.Contains(v, "=") {
			return fmt.Errorf("-env %q: want KEY=VALUE", v)
		}
		c.Env = append(c.Env, v)
		return nil
	})
	fs.Func("faults", "only these faults, comma-separated (\"kill event-writer-2,restart broker,cut postgres,duplicates\"); default all", func(v string) error {
		for _, f := range strings.Split(v, ",") {
			c.Only = append(c.Only, strings.TrimSpace(f))
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return false, err
	}
	if *seed == 0 {
		*seed = rand.Uint64N(1 << 31)
	}
	cfg := chaos.Full(*seed)
	if *small {
		cfg = chaos.Small(*seed)
	}
	override(&cfg, c)
	dir, err := filepath.Abs(*data)
	if err != nil {
		return false, err
	}
	cfg.BinDir, cfg.DataDir, cfg.DatabaseURL, cfg.Out = filepath.Join(dir, "bin"), dir, *db, os.Stdout
	// Always rebuild: a stale binary would test old code.
	_ = os.RemoveAll(cfg.BinDir)

	report, err := chaos.Run(ctx, cfg)
	if !*keep {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = pgstore.DropDatabase(dctx, cfg.DatabaseURL)
	}
	if err != nil {
		return false, err
	}
	report.Print(os.Stdout)
	if *figure == "" {
		*figure = filepath.Join(dir, "timeline.svg")
	}
	if err := chaos.WriteTimeline(*figure, report); err != nil {
		return false, fmt.Errorf("timeline: %w", err)
	}
	fmt.Printf("logs: %s\ntimeline: %s\n", filepath.Join(dir, "logs"), *figure)
	return report.Failed(), nil
}

// override copies the flags that were set (non-zero) over cfg.
func override(cfg *chaos.Config, f chaos.Config) {
	setI := func(dst *int, v int) {
		if v > 0 {
			*dst = v
		}
	}
	setF := func(dst *float64, v float64) {
		if v > 0 {
			*dst = v
		}
	}
	setD := func(dst *time.Duration, v time.Duration) {
		if v > 0 {
			*dst = v
		}
	}
	setI(&cfg.Events, f.Events)
	setF(&cfg.Rate, f.Rate)
	setI(&cfg.Subscribers, f.Subscribers)
	setF(&cfg.SubscribedShare, f.SubscribedShare)
	setI(&cfg.Rounds, f.Rounds)
	setI(&cfg.Duplicates, f.Duplicates)
	setI(&cfg.Writers, f.Writers)
	setI(&cfg.Notifiers, f.Notifiers)
	setI(&cfg.Partitions, f.Partitions)
	setD(&cfg.ServiceDown, f.ServiceDown)
	setD(&cfg.BrokerDown, f.BrokerDown)
	setD(&cfg.PostgresOutage, f.PostgresOutage)
	setD(&cfg.MaxBackoff, f.MaxBackoff)
	setD(&cfg.HealTimeout, f.HealTimeout)
	setD(&cfg.DrainTimeout, f.DrainTimeout)
	setD(&cfg.RecoveryWindow, f.RecoveryWindow)
	cfg.LenientDelivery = f.LenientDelivery
	cfg.Env = f.Env
	cfg.Only = f.Only
}
