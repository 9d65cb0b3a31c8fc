// Command notifier-load prints the notifier's figures as JSON: server memory
// per idle subscribed connection, deliveries per second, and webhook POST →
// websocket latency. Without -notifier it starts the whole pipeline on this
// machine (as `make run` does) and measures that; with it, it measures a
// running stack.
//
//	go run ./services/notifier/cmd/notifier-load -conns 10000 -rate 1000 -duration 30s
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/services/notifier/wsload"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "notifier-load:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	var cfg wsload.Config
	var postgres string
	flag.StringVar(&cfg.NotifierURL, "notifier", "", "ws:// URL of a running notifier; empty starts a stack")
	flag.IntVar(&cfg.NotifierPID, "pid", 0, "the running notifier's process id, for memory figures")
	flag.StringVar(&cfg.WebhookURL, "webhook", "", "webhook-ingest URL of the running stack")
	flag.StringVar(&cfg.WebhookSecret, "webhook-secret", os.Getenv("STRIPE_WEBHOOK_SECRETS"), "signing secret of the running stack")
	flag.StringVar(&cfg.TokenSecret, "token-secret", os.Getenv("SUBSCRIPTION_TOKEN_SECRET"), "SUBSCRIPTION_TOKEN_SECRET of the running stack")
	flag.IntVar(&cfg.Conns, "conns", 10000, "idle subscribed connections")
	flag.Float64Var(&cfg.Rate, "rate", 1000, "webhooks per second")
	flag.DurationVar(&cfg.Duration, "duration", 30*time.Second, "length of the latency phase (0 skips it)")
	flag.DurationVar(&cfg.Settle, "settle", 5*time.Second, "idle time before reading the notifier's memory")
	flag.StringVar(&postgres, "postgres", "postgres://postgres@127.0.0.1:5432/", "PostgreSQL server for a started stack")
	flag.Parse()

	if cfg.NotifierURL == "" {
		stack, cleanup, err := startStack(ctx, postgres)
		if err != nil {
			return err
		}
		defer cleanup()
		cfg.NotifierURL = "ws://" + stack.Config.Addrs["notifier"] + "/ws"
		cfg.NotifierPID = stack.Service("notifier").Pid()
		cfg.WebhookURL = stack.URL("webhook-ingest") + "/webhooks/stripe"
		cfg.WebhookSecret = stack.Config.WebhookSecret
		cfg.TokenSecret = stack.Config.SubscriptionTokenSecret
	}
	res, err := wsload.Run(ctx, cfg)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	return err
}

func startStack(ctx context.Context, postgres string) (*devstack.Stack, func(), error) {
	tmp, err := os.MkdirTemp("", "notifier-load-")
	if err != nil {
		return nil, nil, err
	}
	bin := filepath.Join(tmp, "bin")
	fmt.Fprintln(os.Stderr, "building the services…")
	if err := devstack.BuildServices(ctx, bin, os.Stderr); err != nil {
		return nil, nil, err
	}
	db := "stripeline_load_" + devstack.RandomHex(4)
	stack, err := devstack.StartStack(ctx, devstack.StackConfig{
		BinDir:      bin,
		DatabaseURL: postgres + db + "?sslmode=disable",
		Log: func(c string) io.Writer {
			f, err := os.Create(filepath.Join(tmp, c+".log"))
			if err != nil {
				return io.Discard
			}
			return f
		},
	})
	cleanup := func() {
		if stack != nil {
			_ = stack.Close()
		}
		dropDatabase(postgres, db)
		os.RemoveAll(tmp)
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	fmt.Fprintln(os.Stderr, "stack ready; logs in", tmp)
	return stack, cleanup, nil
}

func dropDatabase(server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server+"postgres?sslmode=disable")
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}
