// Command stripeline-load sends realistic, signed Stripe traffic to any
// stripeline deployment and reports what it sent and what came back, as one
// JSON object on stdout (a readable line goes to stderr).
//
//	stripeline-load webhooks    --url U --secret S [--concurrency N | --rate R] [--duration D | --count N]
//	stripeline-load e2e         --url U --secret S --ws W [--token-secret T] --subscribers N --rate R --duration D
//	stripeline-load connections --ws W [--token-secret T] --n N [--source-addr A]    (holds N idle subscribed connections until stdin closes or SIGTERM)
//	stripeline-load charges     --url U [--api-key K] [--direct] [--refund] [--concurrency N | --rate R] [--duration D]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/tools/loadgen"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:], os.Stdout); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "stripeline-load:", err)
		os.Exit(1)
	}
}

const usage = `stripeline-load sends realistic, signed Stripe traffic to any stripeline deployment and reports what it
sent and what came back, as one JSON object on stdout (a readable line goes to stderr).

usage:
  stripeline-load webhooks    --url U --secret S [--concurrency N | --rate R] [--duration D | --count N]
  stripeline-load e2e         --url U --secret S --ws W [--token-secret T] --subscribers N --rate R --duration D
  stripeline-load connections --ws W [--token-secret T] --n N [--source-addr A]   (holds N idle subscribed connections until stdin closes or SIGTERM)
  stripeline-load charges     --url U [--api-key K] [--direct] [--refund] [--concurrency N | --rate R] [--duration D]

stripeline-load <command> -h lists the flags.`

func realMain(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	if cli.IsHelp(args[:1]) {
		fmt.Fprintln(stdout, usage)
		return nil
	}
	switch args[0] {
	case "webhooks", "e2e", "connections", "charges":
	default:
		return fmt.Errorf("unknown command %q\n%s", args[0], usage)
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-load "+args[0]+": see stripeline-load -h for the commands.\n\nusage: stripeline-load "+args[0]+" [flags]")
	var (
		url         = fs.String("url", "http://127.0.0.1:8081/webhooks/stripe", "webhook endpoint (webhooks, e2e) or charge route (charges)")
		secret      = fs.String("secret", os.Getenv("STRIPE_WEBHOOK_SECRET"), "webhook signing secret (default $STRIPE_WEBHOOK_SECRET)")
		ws          = fs.String("ws", "ws://127.0.0.1:8082/ws", "notifier websocket URL")
		tokenSecret = fs.String("token-secret", os.Getenv("SUBSCRIPTION_TOKEN_SECRET"), "mint subscription tokens with this secret (empty: none sent)")
		concurrency = fs.Int("concurrency", 64, "senders in parallel")
		rate        = fs.Float64("rate", 0, "requests per second in total (0: as fast as the senders go)")
		duration    = fs.Duration("duration", 10*time.Second, "how long to send")
		count       = fs.Int("count", 0, "stop after this many requests (0: no limit)")
		seed        = fs.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the generated events")
		pool        = fs.Int("pool", loadgen.DefaultPool, "distinct events generated before the run, sent in turn (webhooks)")
		subscribers = fs.Int("subscribers", 1000, "websocket subscribers (e2e)")
		n           = fs.Int("n", 1000, "connections to hold (connections)")
		sourceAddr  = fs.String("source-addr", "", "local IP address to open the connections from, such as 127.0.0.2 (connections)")
		drain       = fs.Duration("drain", 10*time.Second, "how long to wait for the last deliveries (e2e)")
		apiKey      = fs.String("api-key", "", "X-API-Key for the api, or the secret key with --direct (charges)")
		direct      = fs.Bool("direct", false, "call a Stripe-compatible API's /v1/charges at --url directly (charges)")
		refund      = fs.Bool("refund", false, "refund a charge instead: --url is the api's /Stripe/refunds and --api-key an admin key, or with --direct /v1/refunds (charges)")
	)
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	var token func(string) string
	if *tokenSecret != "" {
		token = func(id string) string { return subtoken.Sign([]byte(*tokenSecret), id, time.Now().Add(24*time.Hour)) }
	}
	load := loadgen.Load{Concurrency: *concurrency, Rate: *rate, Duration: *duration, Count: *count}

	switch args[0] {
	case "webhooks":
		if *secret == "" {
			return fmt.Errorf("--secret is required")
		}
		res, err := loadgen.SendWebhooks(ctx, loadgen.WebhookConfig{Load: load, URL: *url, Secret: *secret, Seed: *seed, Pool: *pool})
		if err != nil {
			return err
		}
		fmt.Fprintln(os.Stderr, "webhooks:", res)
		return emit(res)
	case "e2e":
		if *secret == "" {
			return fmt.Errorf("--secret is required")
		}
		res, err := loadgen.EndToEnd(ctx, loadgen.EndToEndConfig{
			IngestURL: *url, Secret: *secret, NotifierURL: *ws, Token: token,
			Subscribers: *subscribers, Rate: *rate, Concurrency: *concurrency, Duration: *duration, Drain: *drain, Seed: *seed,
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "e2e: %d subscribers, %s; delivered %d, missing %d, %.0f deliveries/s, latency p50 %.2f ms p99 %.2f ms\n",
			res.Subscribers, res.Send, res.Delivered, res.Missing, res.DeliveriesSec, res.Latency.P50, res.Latency.P99)
		return emit(res)
	case "connections":
		return hold(ctx, *ws, *n, *seed, *sourceAddr, token)
	case "charges":
		res := loadgen.SendCharges(ctx, loadgen.ChargeConfig{Load: load, URL: *url, Direct: *direct, Refund: *refund, APIKey: *apiKey})
		fmt.Fprintln(os.Stderr, "charges:", res)
		return emit(res)
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// hold opens n subscribed idle connections, says so on stdout, and keeps them
// until stdin closes or the process is told to stop.
func hold(ctx context.Context, ws string, n int, seed uint64, sourceAddr string, token func(string) string) error {
	g := loadgen.Seeded(seed)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = g.ID("ch_")
	}
	start := time.Now()
	subs, err := loadgen.Connect(ctx, loadgen.SubscribersConfig{URL: ws, IDs: ids, Token: token, LocalAddr: sourceAddr})
	if err != nil {
		return err
	}
	defer subs.Close()
	fmt.Fprintf(os.Stderr, "connections: %d subscribed in %s\n", n, time.Since(start).Round(time.Millisecond))
	if err := emit(map[string]any{"connections": n, "seconds": time.Since(start).Seconds()}); err != nil {
		return err
	}
	stdin := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stdin) }()
	select {
	case <-ctx.Done():
	case <-stdin:
	}
	return emit(map[string]any{"dropped": subs.Dropped()})
}

func emit(v any) error {
	return json.NewEncoder(os.Stdout).Encode(v)
}
