// Command stripeline-dev runs the whole pipeline on this machine (`make run`):
// the embedded broker, stripe-mock, the database and the four services.
//
//	stripeline-dev run      [-data .data]   the pipeline, until Ctrl-C
//	stripeline-dev broker   [-addr] [-data] only the embedded broker
//	stripeline-dev trigger  <event type> --id <object id>   one event by hand
//	stripeline-dev listen   < charge.json   a payment's events, as they arrive
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/stripeline/stripeline/tools/devstack"

	"github.com/stripeline/stripeline/pkg/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := realMain(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "stripeline-dev:", err)
		os.Exit(1)
	}
}

const usage = `stripeline-dev runs the whole pipeline on this machine (make run): the embedded broker, stripe-mock,
the database and the four services.

usage:
  stripeline-dev run    [-data .data]             the pipeline, until Ctrl-C
  stripeline-dev broker [-addr] [-data] [-partitions] only the embedded broker
  stripeline-dev trigger <event type> [--id <object id>] [--proxy 127.0.0.1:12111] [< charge.json]
                                                  send one signed event about an object to the running
                                                  pipeline's webhook-ingest, through the development proxy
  stripeline-dev listen [-n N] < charge.json      subscribe to a payment's events on the notifier and print them

stripeline-dev <command> -h lists the command's flags.`

func realMain(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", usage)
	}
	if cli.IsHelp(args[:1]) {
		fmt.Println(usage)
		return nil
	}
	switch args[0] {
	case "run":
		return run(ctx, args[1:])
	case "broker":
		return broker(ctx, args[1:])
	case "trigger":
		return trigger(ctx, args[1:], os.Stdin, os.Stdout)
	case "listen":
		return listen(ctx, args[1:], os.Stdin, os.Stdout)
	default:
		return fmt.Errorf("unknown command %q (run, broker, trigger, listen)", args[0])
	}
}

func broker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("broker", flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-dev broker runs only the embedded broker, until Ctrl-C.\n\nusage: stripeline-dev broker [flags]")
	addr := fs.String("addr", "127.0.0.1:9092", "listen address")
	data := fs.String("data", "", "data folder (empty: in memory)")
	partitions := fs.Int("partitions", 4, "partitions of the seeded topics")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := devstack.StartBroker(devstack.BrokerConfig{Addr: *addr, DataDir: *data, Partitions: int32(*partitions),
		Topics: []string{"stripe.events.v1", "stripe.events.v1.poison"}})
	if err != nil {
		return err
	}
	fmt.Printf("broker listening on %s\n", b.Addr())
	<-ctx.Done()
	b.Close()
	return nil
}

// env reads a setting, or def when it is not set.
func env(key, def string) string {
	if v, ok := os.LookupEnv(key); ok && v != "" {
		return v
	}
	return def
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	cli.Usage(fs, args, "stripeline-dev run runs the whole pipeline on this machine, until Ctrl-C.\n\nusage: stripeline-dev run [flags]")
	data := fs.String("data", ".data", "folder for the broker's data, binaries and logs (git-ignored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dataDir, err := filepath.Abs(*data)
	if err != nil {
		return err
	}
	binDir := filepath.Join(dataDir, "bin")
	logDir := filepath.Join(dataDir, "logs")
	for _, d := range []string{binDir, logDir, filepath.Join(dataDir, "kafka")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	fmt.Println("building the services…")
	if err := devstack.BuildServices(ctx, binDir, os.Stderr); err != nil {
		return err
	}

	cfg := runConfig(dataDir)
	fmt.Println("starting the pipeline…")
	stack, err := devstack.StartStack(ctx, cfg)
	if err != nil {
		return fmt.Errorf("%w (logs in %s)", err, logDir)
	}
	defer func() {
		if err := stack.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "stripeline-dev: stop:", err)
		}
	}()
	c := stack.Config
	// The key make run chose, for scripts and the README's walk
	// (export API_KEY=$(cat .data/api-key)); a key of the user's is theirs
	// to keep, and is not written down.
	keyFile := filepath.Join(dataDir, "api-key")
	_ = os.Remove(keyFile)
	if os.Getenv("API_KEYS") == "" {
		if err := os.WriteFile(keyFile, []byte(strings.Split(c.APIKey, ",")[0]+"\n"), 0o600); err != nil {
			return err
		}
	}

	broker := "embedded kfake, data in " + cfg.BrokerData
	if stack.Broker == nil {
		broker = "external"
	}
	stripe := "stripe-mock"
	switch {
	case stack.StripeMock == nil:
		stripe = "external"
	case stack.DevProxy != nil:
		stripe = "the development proxy: declines, webhooks; stripe-mock behind it at " + stack.StripeMockURL
	}
	fmt.Printf(`
stripeline is running. Ctrl-C stops everything.

  api              %s   POST /Stripe/charge   (ops: %s)
  webhook-ingest   %s   POST /webhooks/stripe   (ops: %s)
  notifier         %s   GET /ws (websocket)   (ops: %s)
  event-writer     %s   ops only
  ops endpoints    /healthz /readyz /metrics
  kafka            %s   (%s)
  stripe api       %s   (%s)
  database         %s
  logs             %s

  STRIPE_WEBHOOK_SECRETS=%s
  API_KEYS=%s
  ADMIN_API_KEYS=%s   (refunds, capture, cancel)
  SUBSCRIPTION_TOKEN_SECRET=%s
  STRIPE_SECRET_KEY=%s

Try it:
  open %s in a browser: pay with a test card, watch the webhook events arrive
  curl -s -XPOST %s/Stripe/charge -H 'X-API-Key: %s' -d '{"token":"tok_visa","amount":2000}'
  go run ./tools/cmd/stripeline-dev trigger charge.refunded --id ch_…   one more event for a charge
`,
		stack.URL("api"), stack.OpsURL("api"), stack.URL("webhook-ingest"), stack.OpsURL("webhook-ingest"),
		"ws://"+c.Addrs["notifier"], stack.OpsURL("notifier"), stack.OpsURL("event-writer"),
		strings.Join(c.KafkaBrokers, ","), broker, c.StripeAPIBase, stripe, redactURL(c.DatabaseURL), logDir,
		shown("STRIPE_WEBHOOK_SECRETS", c.WebhookSecret), shown("API_KEYS", c.APIKey), shown("ADMIN_API_KEYS", c.AdminKey),
		shown("SUBSCRIPTION_TOKEN_SECRET", c.SubscriptionTokenSecret), shown("STRIPE_SECRET_KEY", c.StripeSecretKey),
		demoLink(stack), stack.URL("api"), shown("API_KEYS", strings.Split(c.APIKey, ",")[0]))

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping…")
	case <-anyExit(stack):
		fmt.Printf("\na service exited; stopping (see %s)\n", logDir)
	}
	return nil
}

// runConfig is the stack make run starts: the user's settings where the
// environment has them (it never overrides one: KeepEnvironment), the
// services' default addresses, the development proxy in front of
// stripe-mock, and the demo checkout page with a notifier that lets it in.
func runConfig(dataDir string) devstack.StackConfig {
	binDir, logDir := filepath.Join(dataDir, "bin"), filepath.Join(dataDir, "logs")
	cfg := devstack.StackConfig{
		KeepEnvironment:         true,
		Topic:                   os.Getenv("KAFKA_TOPIC"),
		BinDir:                  binDir,
		BrokerAddr:              "127.0.0.1:9092",
		BrokerData:              filepath.Join(dataDir, "kafka"),
		StripeAPIBase:           os.Getenv("STRIPE_API_BASE"),
		StripeMockAddr:          "127.0.0.1:12111",
		DatabaseURL:             env("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/stripeline?sslmode=disable"),
		StripeSecretKey:         os.Getenv("STRIPE_SECRET_KEY"),
		WebhookSecret:           os.Getenv("STRIPE_WEBHOOK_SECRETS"),
		APIKey:                  os.Getenv("API_KEYS"),
		AdminKey:                os.Getenv("ADMIN_API_KEYS"),
		SubscriptionTokenSecret: os.Getenv("SUBSCRIPTION_TOKEN_SECRET"),
		Addrs: map[string]string{
			"api":            env("API_ADDR", "127.0.0.1:8080"),
			"webhook-ingest": env("WEBHOOK_INGEST_ADDR", "127.0.0.1:8081"),
			"notifier":       env("NOTIFIER_ADDR", "127.0.0.1:8082"),
			"event-writer":   env("EVENT_WRITER_ADDR", "127.0.0.1:8083"),
		},
		// The services' defaults: loopback, the port + 1000. The
		// event-writer's listen address is its ops listener.
		OpsAddrs: map[string]string{
			"api":            env("API_OPS_ADDR", "127.0.0.1:9080"),
			"webhook-ingest": env("WEBHOOK_INGEST_OPS_ADDR", "127.0.0.1:9081"),
			"notifier":       env("NOTIFIER_OPS_ADDR", "127.0.0.1:9082"),
		},
		Log: func(component string) io.Writer {
			f, err := os.OpenFile(filepath.Join(logDir, component+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
			if err != nil {
				return os.Stderr
			}
			return f
		},
	}
	if b := os.Getenv("KAFKA_BROKERS"); b != "" {
		cfg.KafkaBrokers = strings.Split(b, ",")
	}
	// The proxy stands where stripe-mock would; with STRIPE_API_BASE set
	// there is no stripe-mock, and no proxy.
	cfg.DevProxy = cfg.StripeAPIBase == ""
	cfg.Demo = true
	return cfg
}

// demoLink is the demo page's address, with the API key make run chose in
// its fragment (which browsers never send to a server); a key from the
// user's environment is not printed, they type it in the page.
func demoLink(stack *devstack.Stack) string {
	link := stack.URL("api") + "/demo/"
	if os.Getenv("API_KEYS") == "" {
		link += "#key=" + strings.Split(stack.Config.APIKey, ",")[0]
	}
	return link
}

// anyExit is closed when any service process exits on its own.
func anyExit(s *devstack.Stack) <-chan struct{} {
	out := make(chan struct{})
	var once sync.Once
	for _, name := range devstack.Services {
		p := s.Service(name)
		go func() {
			<-p.Done()
			once.Do(func() { close(out) })
		}()
	}
	return out
}

// shown is a secret as make run prints it: in full when make run generated
// it (the user needs it to try the pipeline), masked when the user gave it
// in the environment (it may be a real one, and terminals are recorded).
func shown(name, value string) string {
	if os.Getenv(name) == "" {
		return value
	}
	if len(value) <= 8 {
		return "… (from your environment)"
	}
	return value[:4] + "…" + value[len(value)-2:] + " (from your environment)"
}

func redactURL(u string) string {
	if at := strings.LastIndex(u, "@"); at > 0 {
		if scheme := strings.Index(u, "://"); scheme > 0 {
			if colon := strings.Index(u[scheme+3:at], ":"); colon >= 0 {
				return u[:scheme+3+colon] + ":***" + u[at:]
			}
		}
	}
	return u
}
