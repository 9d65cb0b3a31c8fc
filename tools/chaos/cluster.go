package chaos

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/tcpproxy"
)

// BrokerTool is the program that runs the broker as a process of its own
// (`stripeline-dev broker`), so a fault can kill it.
const BrokerTool = "stripeline-dev"

// Build compiles into dir the services and the broker tool that are not
// there yet; a caller that wants fresh binaries empties dir first.
func Build(ctx context.Context, dir string, log io.Writer) error {
	have := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	tool := "github.com/stripeline/stripeline/tools/cmd/" + BrokerTool
	for _, name := range devstack.Services {
		if !have(name) {
			return devstack.BuildServices(ctx, dir, log, tool)
		}
	}
	if have(BrokerTool) {
		return nil
	}
	root, err := devstack.WorkspaceRoot()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, BrokerTool), tool)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %w", BrokerTool, err)
	}
	return nil
}

// component is one process of the pipeline, restartable with the same
// settings: same port, same data folder.
type component struct {
	name  string
	cfg   devstack.ProcessConfig
	ready func(ctx context.Context, p *devstack.Process) error

	mu   sync.Mutex
	proc *devstack.Process
}

func (c *component) start(ctx context.Context) error {
	p, err := devstack.Start(c.cfg)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.proc = p
	c.mu.Unlock()
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := c.ready(rctx, p); err != nil {
		return fmt.Errorf("%s not ready: %w", c.name, err)
	}
	return nil
}

func (c *component) process() *devstack.Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.proc
}

func (c *component) kill() {
	if p := c.process(); p != nil {
		p.Kill()
	}
}

// cluster is the running pipeline.
type cluster struct {
	broker     *component
	services   map[string]*component // by component name
	order      []string              // start order
	proxy      *tcpproxy.Proxy       // between the writers and PostgreSQL
	ingestURL  string
	notifiers  []string // ws:// URLs
	secret     string   // webhook signing secret
	tokenKey   string   // subscription token secret
	logs       []*os.File
	brokerAddr string
}

func startCluster(ctx context.Context, cfg Config) (_ *cluster, err error) {
	c := &cluster{services: map[string]*component{}, secret: "whsec_" + devstack.RandomHex(16), tokenKey: devstack.RandomHex(24)}
	defer func() {
		if err != nil {
			c.stop()
		}
	}()
	logDir := filepath.Join(cfg.DataDir, "logs")
	kafkaDir := filepath.Join(cfg.DataDir, "kafka")
	// A broker folder left by an earlier run would hold its events.
	if err := os.RemoveAll(kafkaDir); err != nil {
		return nil, err
	}
	for _, d := range []string{logDir, kafkaDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	logTo := func(name string) io.Writer {
		f, err := os.OpenFile(filepath.Join(logDir, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			return io.Discard
		}
		c.logs = append(c.logs, f)
		return f
	}

	if c.brokerAddr, err = devstack.FreeAddr(); err != nil {
		return nil, err
	}
	c.broker = &component{
		name: "broker",
		cfg: devstack.ProcessConfig{
			Name: "broker", Path: filepath.Join(cfg.BinDir, BrokerTool),
			Args: []string{"broker", "-addr", c.brokerAddr, "-data", kafkaDir, "-partitions", strconv.Itoa(cfg.Partitions)},
			Log:  logTo("broker"),
		},
		ready: func(ctx context.Context, _ *devstack.Process) error { return devstack.WaitTCP(ctx, c.brokerAddr) },
	}
	if err := c.broker.start(ctx); err != nil {
		return nil, err
	}

	if err := recreateDatabase(ctx, cfg.DatabaseURL); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.DatabaseURL)
	pgAddr := u.Host
	if u.Port() == "" {
		pgAddr = net.JoinHostPort(u.Hostname(), "5432")
	}
	if c.proxy, err = tcpproxy.New("127.0.0.1:0", pgAddr); err != nil {
		return nil, err
	}
	proxied := *u
	proxied.Host = c.proxy.Addr()

	common := []string{
		"KAFKA_BROKERS=" + c.brokerAddr,
		"KAFKA_TOPIC=stripe.events.v1",
		"STRIPE_WEBHOOK_SECRETS=" + c.secret,
		"SUBSCRIPTION_TOKEN_SECRET=" + c.tokenKey,
		"LOG_LEVEL=info",
	}
	add := func(name, bin string, env ...string) error {
		addr, err := devstack.FreeAddr()
		if err != nil {
			return err
		}
		var addrVar string
		switch bin {
		case "event-writer":
			addrVar = "EVENT_WRITER_ADDR"
		case "notifier":
			addrVar = "NOTIFIER_ADDR"
			c.notifiers = append(c.notifiers, "ws://"+addr+"/ws")
		case "webhook-ingest":
			addrVar = "WEBHOOK_INGEST_ADDR"
			c.ingestURL = "http://" + addr + "/webhooks/stripe"
		}
		// Each instance has an ops listener of its own, where /readyz is;
		// the event-writer's is its only listener.
		opsAddr, listen := addr, []string{addrVar + "=" + addr}
		if opsVar := devstack.OpsAddrVar(bin); opsVar != addrVar {
			if opsAddr, err = devstack.FreeAddr(); err != nil {
				return err
			}
			listen = append(listen, opsVar+"="+opsAddr)
		}
		comp := &component{
			name: name,
			cfg: devstack.ProcessConfig{
				Name: name, Path: filepath.Join(cfg.BinDir, bin),
				Env: devstack.OnlyItsSecrets(bin, slices.Concat(common, listen, env, cfg.Env)),
				Log: logTo(name),
			},
			ready: func(ctx context.Context, p *devstack.Process) error {
				return devstack.WaitReady(ctx, p, "http://"+opsAddr+"/readyz")
			},
		}
		c.services[name] = comp
		c.order = append(c.order, name)
		return nil
	}
	for i := 1; i <= cfg.Writers; i++ {
		if err := add(fmt.Sprintf("event-writer-%d", i), "event-writer", "DATABASE_URL="+proxied.String()); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= cfg.Notifiers; i++ {
		if err := add(fmt.Sprintf("notifier-%d", i), "notifier"); err != nil {
			return nil, err
		}
	}
	if err := add("webhook-ingest", "webhook-ingest"); err != nil {
		return nil, err
	}
	// The writers together: they migrate under an advisory lock at once.
	var wg sync.WaitGroup
	errs := make([]error, len(c.order))
	for i, name := range c.order {
		wg.Go(func() { errs[i] = c.services[name].start(ctx) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// component returns the component by name: a service or "broker".
func (c *cluster) component(name string) *component {
	if name == "broker" {
		return c.broker
	}
	return c.services[name]
}

// stop ends every process: services first with SIGTERM, as an operator
// would, then the broker. It reports services that did not exit cleanly.
func (c *cluster) stop() error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := len(c.order) - 1; i >= 0; i-- {
		comp := c.services[c.order[i]]
		p := comp.process()
		if p == nil {
			continue
		}
		wg.Go(func() {
			if err := p.Stop(20 * time.Second); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", comp.name, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if c.broker != nil {
		if p := c.broker.process(); p != nil {
			_ = p.Stop(10 * time.Second)
		}
	}
	if c.proxy != nil {
		c.proxy.Close()
	}
	for _, f := range c.logs {
		f.Close()
	}
	return errors.Join(errs...)
}

// recreateDatabase drops the run's database and creates it empty: rows of an
// earlier run would read as extra rows.
func recreateDatabase(ctx context.Context, dbURL string) error {
	if err := pgstore.DropDatabase(ctx, dbURL); err != nil {
		return err
	}
	return pgstore.EnsureDatabase(ctx, dbURL)
}
