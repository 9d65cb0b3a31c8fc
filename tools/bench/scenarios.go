package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5"

	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/pgstore"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// API is POST /Stripe/charge beside the same charge sent straight to the
// Stripe-compatible API behind it, and the same for POST /Stripe/refunds,
// each at a fixed rate (APIRate) below saturation: the overhead is then the
// api's own time, not the queueing of closed-loop clients on few cores.
type API struct {
	Charge        loadgen.Result `json:"charge"`
	Direct        loadgen.Result `json:"direct"`
	OverheadP50Ms float64        `json:"overhead_p50_ms"`
	OverheadP99Ms float64        `json:"overhead_p99_ms"`

	Refund              loadgen.Result `json:"refund"`
	RefundDirect        loadgen.Result `json:"refund_direct"`
	RefundOverheadP50Ms float64        `json:"refund_overhead_p50_ms"`
	RefundOverheadP99Ms float64        `json:"refund_overhead_p99_ms"`
}

func (b *run) api(ctx context.Context, r *Results) error {
	at := []string{"--rate", strconv.FormatFloat(b.cfg.APIRate, 'f', -1, 64),
		"--concurrency", strconv.Itoa(b.cfg.APIConcurrency), "--duration", b.cfg.APIDuration.String()}
	for _, c := range []struct {
		res  *loadgen.Result
		args []string
	}{
		{&r.API.Charge, []string{"--url", b.stack.URL("api") + "/Stripe/charge", "--api-key", b.stack.Config.APIKey}},
		{&r.API.Direct, []string{"--direct", "--url", b.stack.Config.StripeAPIBase, "--api-key", b.stack.Config.StripeSecretKey}},
		{&r.API.Refund, []string{"--refund", "--url", b.stack.URL("api") + "/Stripe/refunds", "--api-key", b.stack.Config.AdminKey}},
		{&r.API.RefundDirect, []string{"--refund", "--direct", "--url", b.stack.Config.StripeAPIBase, "--api-key", b.stack.Config.StripeSecretKey}},
	} {
		if err := b.load(ctx, c.res, append(append([]string{"charges"}, c.args...), at...)...); err != nil {
			return err
		}
	}
	r.API.OverheadP50Ms = r.API.Charge.Latency.P50 - r.API.Direct.Latency.P50
	r.API.OverheadP99Ms = r.API.Charge.Latency.P99 - r.API.Direct.Latency.P99
	r.API.RefundOverheadP50Ms = r.API.Refund.Latency.P50 - r.API.RefundDirect.Latency.P50
	r.API.RefundOverheadP99Ms = r.API.Refund.Latency.P99 - r.API.RefundDirect.Latency.P99
	return nil
}

// Ingest is verified, broker-acknowledged webhooks beside its ceiling:
// watermill-kafka's Publisher (kafka.Publisher, ingest's own) alone,
// publishing the same messages from as many concurrent callers as there are
// senders. A bare Sarama producer sending them in batches is shown too.
type Ingest struct {
	Service   loadgen.Result `json:"service"`
	Publisher loadgen.Result `json:"publisher"` // the ceiling
	Ratio     float64        `json:"ratio"`     // Service to Publisher

	SaramaMessages  int       `json:"sarama_messages"`
	SaramaPerSecond float64   `json:"sarama_per_second"` // the median of SaramaRuns
	SaramaRuns      []float64 `json:"sarama_runs"`
	SaramaRatio     float64   `json:"sarama_ratio"` // Service to Sarama

	// Memory is ingest's RSS while SilentSockets connections hold a
	// request whose header declared a 1 MiB body and then send nothing,
	// and MemoryWebhooks real webhooks are answered meanwhile.
	SilentSockets  int   `json:"silent_sockets"`
	MemoryWebhooks int   `json:"memory_webhooks"`
	RSSBeforeKiB   int64 `json:"rss_before_kib"`
	RSSAfterKiB    int64 `json:"rss_after_kib"`
	// The floors: the same load against a server that only answers 200
	// (HTTP), and one that only produces each body with ingest's producer
	// settings and answers once acknowledged (Produce); no checks, no key.
	// No correct ingest can beat the produce floor (services/webhook-ingest/
	// bench/floor.go).
	HTTPFloor         loadgen.Result `json:"http_floor"`
	ProduceFloor      loadgen.Result `json:"produce_floor"`
	HTTPFloorRatio    float64        `json:"http_floor_ratio"`    // to the Publisher ceiling
	ProduceFloorRatio float64        `json:"produce_floor_ratio"` // to the Publisher ceiling
}

// paused runs fn with the named services paused (SIGSTOP), so a figure
// measures its own service and not the machine's other tenants: on a small
// machine the consumers of the same events would otherwise take a large share
// of the CPU (docs/webhook-ingest.md, "Measuring it").
func (b *run) paused(names []string, fn func() error) error {
	for _, n := range names {
		if err := b.stack.Service(n).Pause(); err != nil {
			return err
		}
	}
	defer func() {
		for _, n := range names {
			_ = b.stack.Service(n).Resume()
		}
	}()
	return fn()
}

func (b *run) ingest(ctx context.Context, r *Results) error {
	// The consumers catch up afterwards; meanwhile ingest and the ceiling have
	// the machine to themselves and the broker.
	return b.paused([]string{"event-writer", "notifier"}, func() error { return b.ingestPaused(ctx, r) })
}

func (b *run) ingestPaused(ctx context.Context, r *Results) error {
	if err := b.webhooks(ctx, &r.Ingest.Service, b.stack.URL("webhook-ingest")); err != nil {
		return err
	}
	// The same events (same seed, same count), to a topic no service reads.
	n := r.Ingest.Service.Sent
	msgs := producerMessages(b.cfg.Seed, 0, n, "bench.ceiling."+strconv.FormatUint(b.cfg.Seed, 36))
	// A run of the bare producer lasts a second or two, against ingest's
	// 15: one pause of the broker (its GC, a new segment) moves it by half.
	// The median of three runs is the ceiling.
	for range 3 {
		rate, err := saramaBatches(ctx, b.stack.Config.KafkaBrokers, msgs)
		if err != nil {
			return err
		}
		r.Ingest.SaramaRuns = append(r.Ingest.SaramaRuns, rate)
	}
	r.Ingest.SaramaMessages, r.Ingest.SaramaPerSecond = n, median(r.Ingest.SaramaRuns)
	r.Ingest.SaramaRatio = ratio(r.Ingest.Service.PerSecond, r.Ingest.SaramaPerSecond)
	var err error
	if r.Ingest.Publisher, err = publisherAlone(ctx, b.stack.Config.KafkaBrokers, b.cfg.IngestSenders, msgs); err != nil {
		return fmt.Errorf("publisher ceiling: %w", err)
	}
	rate := r.Ingest.Publisher.PerSecond
	r.Ingest.Ratio = ratio(r.Ingest.Service.PerSecond, rate)

	if err := b.floor(ctx, &r.Ingest.HTTPFloor); err != nil {
		return fmt.Errorf("HTTP floor: %w", err)
	}
	if err := b.floor(ctx, &r.Ingest.ProduceFloor, "--brokers", strings.Join(b.stack.Config.KafkaBrokers, ","),
		"--topic", "bench.floor."+strconv.FormatUint(b.cfg.Seed, 36)); err != nil {
		return fmt.Errorf("produce floor: %w", err)
	}
	r.Ingest.HTTPFloorRatio = ratio(r.Ingest.HTTPFloor.PerSecond, rate)
	r.Ingest.ProduceFloorRatio = ratio(r.Ingest.ProduceFloor.PerSecond, rate)
	return b.silentSockets(ctx, &r.Ingest)
}

// publisherAlone publishes msgs as ingest does (kafka.NewEventMessage: the
// same body, key and headers, through kafka.Publisher, one message a call)
// from callers goroutines: ingest's ceiling, with no HTTP, signature or
// parsing on the clock.
func publisherAlone(ctx context.Context, brokers []string, callers int, msgs []*sarama.ProducerMessage) (loadgen.Result, error) {
	topic := "bench.publisher." + devstack.RandomHex(4)
	bodies := make([][]byte, len(msgs))
	envs := make([]stripeevent.Envelope, len(msgs))
	for i, m := range msgs {
		bodies[i] = []byte(m.Value.(sarama.ByteEncoder))
		var err error
		if envs[i], err = stripeevent.Parse(bodies[i]); err != nil {
			return loadgen.Result{}, err
		}
	}
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: "bench-publisher"}, nil)
	if err != nil {
		return loadgen.Result{}, err
	}
	defer pub.Close()
	// Warm up: the topic exists and the connection is open before the clock starts.
	if err := pub.Publish(topic, kafka.NewEventMessage(bodies[0], envs[0], time.Now())); err != nil {
		return loadgen.Result{}, fmt.Errorf("warm-up: %w", err)
	}
	var next atomic.Int64
	res := loadgen.Run(ctx, loadgen.Load{Concurrency: callers, Count: len(msgs)}, func(context.Context) (int, error) {
		i := int(next.Add(1)-1) % len(msgs)
		if err := pub.Publish(topic, kafka.NewEventMessage(bodies[i], envs[i], time.Now())); err != nil {
			return 0, err
		}
		return 200, nil
	})
	if res.Accepted != len(msgs) {
		return res, fmt.Errorf("%d of %d published", res.Accepted, len(msgs))
	}
	return res, nil
}

// silentSockets reads ingest's RSS, opens sockets that each send a POST
// header declaring a 1 MiB body and then nothing, has real webhooks
// answered while they are held, and reads its RSS again.
func (b *run) silentSockets(ctx context.Context, in *Ingest) error {
	const sockets, webhooks, declared = 300, 200, 1 << 20
	in.SilentSockets, in.MemoryWebhooks = sockets, webhooks
	pid := b.stack.Service("webhook-ingest").Pid()
	var err error
	if in.RSSBeforeKiB, err = rssKiB(pid); err != nil {
		return err
	}
	addr := strings.TrimPrefix(b.stack.URL("webhook-ingest"), "http://")
	head := fmt.Sprintf("POST /webhooks/stripe HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nStripe-Signature: %s\r\nContent-Length: %d\r\n\r\n",
		addr, stripeevent.Sign([]byte("{}"), time.Now(), b.stack.Config.WebhookSecret), declared)
	for range sockets {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte(head)); err != nil {
			return err
		}
	}
	var sent loadgen.Result
	if err := b.load(ctx, &sent, "webhooks", "--url", b.stack.URL("webhook-ingest")+"/webhooks/stripe",
		"--secret", b.stack.Config.WebhookSecret, "--concurrency", "4", "--count", strconv.Itoa(webhooks),
		"--seed", strconv.FormatUint(b.cfg.Seed+5, 10)); err != nil {
		return err
	}
	if sent.Accepted != webhooks {
		return fmt.Errorf("%d of %d webhooks accepted while %d silent sockets were held", sent.Accepted, webhooks, sockets)
	}
	in.RSSAfterKiB, err = rssKiB(pid)
	return err
}

// floor runs ingest-floor with args as a process of its own and the ingest
// step's load against it.
func (b *run) floor(ctx context.Context, out *loadgen.Result, args ...string) error {
	addr, err := devstack.FreeAddr()
	if err != nil {
		return err
	}
	p, err := devstack.Start(devstack.ProcessConfig{Name: "ingest-floor", Path: filepath.Join(b.bin, "ingest-floor"),
		Args: append([]string{"-addr", addr}, args...), Log: b.cfg.Progress})
	if err != nil {
		return err
	}
	defer p.Stop(5 * time.Second)
	if err := devstack.WaitTCP(ctx, addr); err != nil {
		return err
	}
	return b.webhooks(ctx, out, "http://"+addr)
}

// webhooks runs the ingest step's load (signed webhooks from IngestSenders
// senders for IngestDuration) against the server at base.
func (b *run) webhooks(ctx context.Context, out *loadgen.Result, base string) error {
	return b.load(ctx, out, "webhooks", "--url", base+"/webhooks/stripe",
		"--secret", b.stack.Config.WebhookSecret, "--concurrency", strconv.Itoa(b.cfg.IngestSenders),
		"--duration", b.cfg.IngestDuration.String(), "--seed", strconv.FormatUint(b.cfg.Seed, 10))
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

// producerMessages is what the load generator sends with seed and pool (0:
// its default), n messages of it, as ingest would publish them.
func producerMessages(seed uint64, pool, n int, topic string) []*sarama.ProducerMessage {
	events := loadgen.Cycle(seed, pool, n)
	now := time.Now()
	msgs := make([]*sarama.ProducerMessage, n)
	for i := range msgs {
		msgs[i] = events[i%len(events)].Message(topic, now)
	}
	return msgs
}

// saramaBatches sends msgs with a bare Sarama producer in batches (acks from
// all in-sync replicas, idempotent: the guarantees ingest gives) and returns
// messages per second. The first message goes alone, before the clock
// starts, so that connecting and creating the topic are not timed.
func saramaBatches(ctx context.Context, brokers []string, msgs []*sarama.ProducerMessage) (float64, error) {
	p, err := loadgen.NewProducer(brokers)
	if err != nil {
		return 0, err
	}
	defer p.Close()
	if err := p.Send(ctx, msgs[:1]); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := p.Send(ctx, msgs[1:]); err != nil {
		return 0, err
	}
	return float64(len(msgs)-1) / time.Since(start).Seconds(), nil
}

// Notifier is memory per idle subscribed connection, and delivery from
// webhook POST to websocket receipt.
type Notifier struct {
	Connections  int                    `json:"connections"`
	RSSBeforeKiB int64                  `json:"rss_before_kib"`
	RSSAfterKiB  int64                  `json:"rss_after_kib"`
	PerConnKiB   float64                `json:"kib_per_connection"`
	AtRate       loadgen.EndToEndResult `json:"at_rate"`
	Max          loadgen.EndToEndResult `json:"max"`
	// Ramp is the notifier's RSS against its open connections (its own
	// notifier_connections) while the connections come, sampled every
	// rampEvery, and through the settling after.
	Ramp []RampPoint `json:"ramp,omitempty"`
}

// RampPoint is one sample of the notifier while connections ramp up.
type RampPoint struct {
	Seconds     float64 `json:"s"`
	Connections int     `json:"connections"`
	RSSKiB      int64   `json:"rss_kib"`
}

const rampEvery = 250 * time.Millisecond

// sampleRamp samples the notifier's RSS and connections until stop is
// closed, then returns the samples.
func (b *run) sampleRamp(pid int, stop <-chan struct{}) []RampPoint {
	start := time.Now()
	metrics := b.stack.OpsURL("notifier") + "/metrics"
	t := time.NewTicker(rampEvery)
	defer t.Stop()
	var out []RampPoint
	for {
		if rss, err := rssKiB(pid); err == nil {
			if n, err := gauge(metrics, "notifier_connections"); err == nil {
				out = append(out, RampPoint{Seconds: time.Since(start).Seconds(), Connections: int(n), RSSKiB: rss})
			}
		}
		select {
		case <-stop:
			return out
		case <-t.C:
		}
	}
}

// gauge reads an unlabelled sample from a /metrics page.
func gauge(url, name string) (float64, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", url, name)
}

func (b *run) notifierMemory(ctx context.Context, r *Results) error {
	n := &r.Notifier
	n.Connections = b.cfg.Connections
	pid := b.stack.Service("notifier").Pid()
	var err error
	if n.RSSBeforeKiB, err = rssKiB(pid); err != nil {
		return err
	}
	stopRamp, ramp := make(chan struct{}), make(chan []RampPoint, 1)
	go func() { ramp <- b.sampleRamp(pid, stopRamp) }()
	defer func() {
		close(stopRamp)
		n.Ramp = <-ramp
	}()
	h, err := b.holdConnections(ctx, "ws://"+b.stack.Config.Addrs["notifier"]+"/ws", b.cfg.Connections, "", b.cfg.Seed)
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // let the heap settle before reading RSS
	n.RSSAfterKiB, err = rssKiB(pid)
	h.release()
	if err != nil {
		return err
	}
	n.PerConnKiB = float64(n.RSSAfterKiB-n.RSSBeforeKiB) / float64(b.cfg.Connections)
	return nil
}

// held is a stripeline-load connections process holding its connections.
type held struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	out     *json.Decoder // its stdout, a JSON value a line
	seconds float64       // how long its subscribe round trips took, all of them
	done    bool
}

// holdConnections starts a load generator holding n idle subscribed
// connections to ws, opened from sourceAddr (empty: the system's choice),
// and returns once they are all subscribed.
func (b *run) holdConnections(ctx context.Context, ws string, n int, sourceAddr string, seed uint64) (*held, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.bin, "stripeline-load"), "connections",
		"--ws", ws, "--token-secret", b.stack.Config.SubscriptionTokenSecret,
		"--n", strconv.Itoa(n), "--seed", strconv.FormatUint(seed, 10), "--source-addr", sourceAddr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = b.cfg.Progress
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	h := &held{cmd: cmd, stdin: stdin, out: json.NewDecoder(stdout)}
	var ready struct {
		Connections int
		Seconds     float64
	}
	if err := h.out.Decode(&ready); err != nil || ready.Connections != n {
		h.release()
		return nil, fmt.Errorf("connections: no ready line for %d connections (%v)", n, err)
	}
	h.seconds = ready.Seconds
	return h, nil
}

// count asks the process how many events its connections have received.
func (h *held) count() (int, error) {
	if _, err := io.WriteString(h.stdin, "count\n"); err != nil {
		return 0, err
	}
	var c struct{ Count int }
	err := h.out.Decode(&c)
	return c.Count, err
}

// finish closes the connections, waits for the process to end and returns
// what they received.
func (h *held) finish() (heldReport, error) {
	var rep heldReport
	if h.done {
		return rep, fmt.Errorf("connections: already released")
	}
	h.done = true
	h.stdin.Close()
	err := h.out.Decode(&rep)
	_, _ = io.Copy(io.Discard, h.out.Buffered())
	if werr := h.cmd.Wait(); err == nil {
		err = werr
	}
	return rep, err
}

// heldReport is a connections process's last line.
type heldReport struct {
	Dropped int64 `json:"dropped"`
	loadgen.ReceiptReport
}

// release closes the connections and waits for the process to end.
func (h *held) release() {
	if !h.done {
		_, _ = h.finish()
	}
}

func (b *run) notifierLatency(ctx context.Context, r *Results) error {
	n := &r.Notifier
	common := []string{"--url", b.stack.URL("webhook-ingest") + "/webhooks/stripe", "--secret", b.stack.Config.WebhookSecret,
		"--ws", "ws://" + b.stack.Config.Addrs["notifier"] + "/ws", "--token-secret", b.stack.Config.SubscriptionTokenSecret,
		"--subscribers", strconv.Itoa(b.cfg.E2ESubscribers), "--duration", b.cfg.E2EDuration.String(),
	}
	// Each run has a seed of its own: the same seed would repeat the event ids,
	// which the notifier rightly delivers once.
	if err := b.load(ctx, &n.AtRate, append([]string{"e2e", "--rate", fmt.Sprint(b.cfg.E2ERate), "--concurrency", "64",
		"--seed", strconv.FormatUint(b.cfg.Seed+1, 10)}, common...)...); err != nil {
		return err
	}
	if err := b.load(ctx, &n.Max, append([]string{"e2e", "--concurrency", "64",
		"--seed", strconv.FormatUint(b.cfg.Seed+3, 10)}, common...)...); err != nil {
		return err
	}
	return nil
}

// Writer is draining a backlog into stripe_events beside a bare CopyFrom of
// the same rows into an identical table.
type Writer struct {
	Events            int     `json:"events"`
	Seconds           float64 `json:"seconds"`
	PerSecond         float64 `json:"per_second"`
	CopyFromSeconds   float64 `json:"copyfrom_seconds"`
	CopyFromPerSecond float64 `json:"copyfrom_per_second"`
	Ratio             float64 `json:"ratio"`
	// ReplaySeconds is `event-writer replay --from <the backlog's start>`
	// restoring the same events into an emptied table.
	ReplaySeconds   float64 `json:"replay_seconds"`
	ReplayPerSecond float64 `json:"replay_per_second"`
}

func (b *run) writer(ctx context.Context, r *Results) error {
	w := Writer{Events: b.cfg.WriterBacklog}
	conn, err := pgx.Connect(ctx, b.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	count := func() (int, error) {
		var n int
		err := conn.QueryRow(ctx, "SELECT count(*) FROM stripe_events").Scan(&n)
		return n, err
	}

	// The writer first catches up with what the earlier steps published, so
	// that the backlog below is all it drains.
	b.log.printf("waiting for the writer to catch up")
	for {
		lag, err := kafka.GroupLag(b.stack.Config.KafkaBrokers, "event-writer", b.stack.Config.Topic)
		if err != nil {
			return err
		}
		if lag == 0 {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	// The backlog: the writer is stopped while it is published.
	if err := b.stack.Service("event-writer").Stop(30 * time.Second); err != nil {
		return err
	}
	before, err := count()
	if err != nil {
		return err
	}
	seed := b.cfg.Seed + 2
	backlogStart := time.Now().Add(-time.Second)                             // broker timestamps: ms, and clocks are one here
	msgs := producerMessages(seed, w.Events, w.Events, b.stack.Config.Topic) // all distinct
	if _, err := saramaBatches(ctx, b.stack.Config.KafkaBrokers, msgs); err != nil {
		return err
	}
	b.log.printf("backlog of %d events published; starting the writer", w.Events)
	// The notifier reads the same backlog into its window: paused, so the
	// drain measures the writer.
	if err := b.stack.Service("notifier").Pause(); err != nil {
		return err
	}
	defer b.stack.Service("notifier").Resume()
	if err := b.stack.StartService(ctx, "event-writer"); err != nil {
		return err
	}
	start := time.Now()
	for {
		n, err := count()
		if err != nil {
			return err
		}
		if n >= before+w.Events {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("writer drained %d of %d events in 5 minutes", n-before, w.Events)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.Seconds = time.Since(start).Seconds()
	w.PerSecond = float64(w.Events) / w.Seconds

	// The ceiling: the same rows, CopyFrom straight into an identical table.
	rows := make([]pgstore.Event, 0, len(msgs))
	for _, m := range msgs {
		body := []byte(m.Value.(sarama.ByteEncoder))
		env, err := stripeevent.Parse(body)
		if err != nil {
			return err
		}
		rows = append(rows, pgstore.Event{Envelope: env, ReceivedAt: time.Now(), Payload: body})
	}
	if _, err := conn.Exec(ctx, "DROP TABLE IF EXISTS bench_copyfrom; CREATE TABLE bench_copyfrom (LIKE stripe_events INCLUDING ALL)"); err != nil {
		return err
	}
	defer conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bench_copyfrom")
	start = time.Now()
	if _, err := pgstore.CopyEvents(ctx, conn, "bench_copyfrom", rows); err != nil {
		return err
	}
	w.CopyFromSeconds = time.Since(start).Seconds()
	w.CopyFromPerSecond = float64(w.Events) / w.CopyFromSeconds
	w.Ratio = ratio(w.PerSecond, w.CopyFromPerSecond)

	// Replay: the table emptied, the same events read again from the topic.
	if _, err := conn.Exec(ctx, "TRUNCATE stripe_events"); err != nil {
		return err
	}
	b.log.printf("replaying the backlog into an emptied table")
	cmd := exec.CommandContext(ctx, filepath.Join(b.stack.Config.BinDir, "event-writer"),
		"replay", "--from", backlogStart.UTC().Format(time.RFC3339Nano))
	cmd.Env = append(os.Environ(), b.stack.Env()...)
	cmd.Env = append(cmd.Env, "EVENT_WRITER_ADDR=127.0.0.1:0")
	start = time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("replay: %w\n%s", err, out)
	}
	w.ReplaySeconds = time.Since(start).Seconds()
	n, err := count()
	if err != nil {
		return err
	}
	if n < w.Events {
		return fmt.Errorf("replay restored %d of %d events", n, w.Events)
	}
	w.ReplayPerSecond = float64(n) / w.ReplaySeconds
	r.Writer = w
	return nil
}

// resetDatabase drops the bench's database (the stack creates it again), so
// that the run starts from an empty table.
func resetDatabase(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	if !strings.Contains(cfg.Database, "bench") {
		return fmt.Errorf("refusing to drop database %q: the bench database's name must contain \"bench\"", cfg.Database)
	}
	return pgstore.DropDatabase(ctx, url)
}
