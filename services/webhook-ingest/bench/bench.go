// Package bench measures webhook-ingest's throughput and latency through the
// real HTTP handler and publisher, against a bare Sarama producer sending
// the same messages in batches to the same broker: the figure of merit is
// the ratio of the two. Beside them: ingest's Publisher alone, the floors
// (floor.go) and what silent connections cost (memory.go).
// cmd/ingest-bench calls Run.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/stripeline/stripeline/pkg/devstack"
	"github.com/stripeline/stripeline/pkg/httpserver"
	"github.com/stripeline/stripeline/pkg/kafka"
	"github.com/stripeline/stripeline/pkg/loadgen"
	"github.com/stripeline/stripeline/pkg/stripeevent"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/eventgen"
	"github.com/stripeline/stripeline/services/webhook-ingest/internal/ingest"
)

// Config says what to measure.
type Config struct {
	Brokers   []string // the broker both producers send to
	EventsDir string   // real event shapes: services/webhook-ingest/testdata/events
	Senders   int      // concurrent HTTP senders; default 64
	Messages  int      // per measurement; default 20,000
	BatchSize int      // messages per SendMessages of the bare producer; default 500
	// Floors adds the two floors (floor.go): the same requests through an
	// HTTP server that only answers, and one that only produces.
	Floors bool
	// SilentSockets, when positive, adds the memory measurement (memory.go)
	// with that many silent connections, before anything else is measured.
	SilentSockets int
	// CPUProfile, when set, receives a CPU profile of the ingest measurement
	// alone (not of the preparation or the bare producer).
	CPUProfile io.Writer
}

func (c *Config) setDefaults() {
	if c.Senders <= 0 {
		c.Senders = 64
	}
	if c.Messages <= 0 {
		c.Messages = 20_000
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 500
	}
}

// Figure is one measurement.
type Figure struct {
	Name      string
	Messages  int
	Elapsed   time.Duration
	PerSecond float64
	// P50 and P99 are per request for ingest (HTTP request to 200, the
	// broker's acknowledgement included), per Publish call for the Publisher
	// alone and per SendMessages call for the bare producer (a whole batch).
	P50, P99 time.Duration
}

func (f Figure) String() string {
	return fmt.Sprintf("%-46s %7d msgs in %6.2fs = %8.0f msgs/s   p50 %8s   p99 %8s",
		f.Name, f.Messages, f.Elapsed.Seconds(), f.PerSecond, f.P50.Round(10*time.Microsecond), f.P99.Round(10*time.Microsecond))
}

// Report is both measurements and their ratio.
type Report struct {
	Senders   int
	MeanBytes int // mean body size
	Ingest    Figure
	Bare      Figure    // the median of three runs
	BareRuns  []float64 // msgs/s of each run, in order
	Ratio     float64   // Ingest.PerSecond / Bare.PerSecond; the target is ≥ 0.5
	// Publisher is ingest's kafka.Publisher alone, Senders goroutines
	// publishing the same messages: the ceiling of ingest's publish path.
	Publisher Figure
	// HTTPFloor and ProduceFloor are measured when Config.Floors is set.
	HTTPFloor, ProduceFloor *Figure
	// Memory is measured when Config.SilentSockets is positive.
	Memory *Memory
}

func (r Report) String() string {
	s := fmt.Sprintf("%s\n%s (median of %.0f msgs/s)\nratio ingest/bare = %.2f (target ≥ 0.50); %d senders, mean event %d bytes\n",
		r.Ingest, r.Bare, r.BareRuns, r.Ratio, r.Senders, r.MeanBytes)
	for _, f := range []*Figure{&r.Publisher, r.HTTPFloor, r.ProduceFloor} {
		if f != nil {
			s += fmt.Sprintf("%s   ratio to bare %.2f\n", f, f.PerSecond/r.Bare.PerSecond)
		}
	}
	if r.Memory != nil {
		s += r.Memory.String() + "\n"
	}
	return s
}

const secret = "whsec_bench"

// Run measures what silent connections cost (if asked), the bare
// producer, ingest, the Publisher alone, then the floors (if asked), each on
// a topic of its own with the same messages.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg.setDefaults()
	var r Report
	if cfg.SilentSockets > 0 {
		// First: the process has not yet grown for the other measurements.
		m, err := measureMemory(ctx, cfg)
		if err != nil {
			return r, fmt.Errorf("memory: %w", err)
		}
		r.Memory = &m
	}
	tpls, err := eventgen.Load(cfg.EventsDir)
	if err != nil {
		return r, err
	}
	bodies := make([][]byte, cfg.Messages)
	total := 0
	for i := range bodies {
		bodies[i], _, _ = tpls[i%len(tpls)].Vary(i)
		total += len(bodies[i])
	}
	r.Senders, r.MeanBytes = cfg.Senders, total/len(bodies)
	// A run of the bare producer lasts a second or less and moves by half
	// from one to the next: the ceiling is the median of three, as in
	// `make bench`.
	runs := make([]Figure, 3)
	for i := range runs {
		if runs[i], err = bare(ctx, cfg, bodies); err != nil {
			return r, fmt.Errorf("bare producer: %w", err)
		}
		r.BareRuns = append(r.BareRuns, runs[i].PerSecond)
	}
	slices.SortFunc(runs, func(a, b Figure) int { return cmp.Compare(a.PerSecond, b.PerSecond) })
	r.Bare = runs[1]
	if r.Ingest, err = throughIngest(ctx, cfg, bodies); err != nil {
		return r, fmt.Errorf("ingest: %w", err)
	}
	r.Ratio = r.Ingest.PerSecond / r.Bare.PerSecond
	if r.Publisher, err = publisherAlone(ctx, cfg, bodies); err != nil {
		return r, fmt.Errorf("publisher alone: %w", err)
	}
	if cfg.Floors {
		httpOnly, produce, err := floors(ctx, cfg, bodies)
		if err != nil {
			return r, err
		}
		r.HTTPFloor, r.ProduceFloor = &httpOnly, &produce
	}
	return r, nil
}

func topicName(what string) string { return "bench." + what + "." + devstack.RandomHex(4) }

// bare sends the messages ingest would publish (same key, headers, body and
// producer settings) with SendMessages, BatchSize at a time.
func bare(ctx context.Context, cfg Config, bodies [][]byte) (Figure, error) {
	topic := topicName("bare")
	msgs := make([]*sarama.ProducerMessage, len(bodies))
	for i, b := range bodies {
		env, err := stripeevent.Parse(b)
		if err != nil {
			return Figure{}, err
		}
		msgs[i] = loadgen.RawMessage(topic, env.ObjectID, b, kafka.EventHeaders(env, time.Now()))
	}
	p, err := sarama.NewSyncProducer(cfg.Brokers, kafka.ProducerSarama("bench-bare"))
	if err != nil {
		return Figure{}, err
	}
	defer p.Close()
	// Warm up: the topic exists and the connection is open before the clock starts.
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder("warm-up")}); err != nil {
		return Figure{}, err
	}
	var lat []time.Duration
	start := time.Now()
	for i := 0; i < len(msgs); i += cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return Figure{}, err
		}
		t := time.Now()
		if err := p.SendMessages(msgs[i:min(i+cfg.BatchSize, len(msgs))]); err != nil {
			return Figure{}, err
		}
		lat = append(lat, time.Since(t))
	}
	return figure(fmt.Sprintf("bare sarama (batches of %d)", cfg.BatchSize), len(msgs), time.Since(start), lat), nil
}

// throughIngest serves the real handler and batching publisher on loopback
// and has Senders goroutines post the signed bodies over keep-alive HTTP.
func throughIngest(ctx context.Context, cfg Config, bodies [][]byte) (Figure, error) {
	h, pub, err := newIngest(cfg.Brokers, topicName("ingest"), "bench-ingest")
	if err != nil {
		return Figure{}, err
	}
	defer pub.Close()
	addr, stop, err := serve(ingest.Routes(h, http.NotFoundHandler()), Limits())
	if err != nil {
		return Figure{}, err
	}
	defer stop()
	return postAll(ctx, cfg, fmt.Sprintf("ingest HTTP (%d senders)", cfg.Senders), "http://"+addr+ingest.Path, signed(bodies), cfg.CPUProfile)
}

// newIngest is ingest's handler, publishing to topic with a publisher of
// its own (the caller closes it).
func newIngest(brokers []string, topic, clientID string) (*ingest.Handler, *kafka.Publisher, error) {
	icfg := ingest.Config{Topic: topic, Secrets: []string{secret}, Tolerance: time.Hour, MaxBody: 1 << 20, PublishTimeout: 5 * time.Second}
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: brokers, ClientID: clientID}, nil)
	if err != nil {
		return nil, nil, err
	}
	metrics, err := ingest.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		pub.Close()
		return nil, nil, err
	}
	return ingest.New(icfg, pub, metrics, discard), pub, nil
}

var discard = slog.New(slog.DiscardHandler)

// Limits are the service's server limits with its default settings
// (WEBHOOK_READ_TIMEOUT, WEBHOOK_WRITE_TIMEOUT, …: internal/config), which
// the floors are served with too.
func Limits() httpserver.Limits {
	l := httpserver.DefaultLimits()
	l.ReadHeaderTimeout, l.ReadTimeout, l.WriteTimeout = 10*time.Second, 10*time.Second, 10*time.Second
	return l
}

// serve serves handler on loopback through pkg/httpserver, as the service
// serves its port, until stop is called.
func serve(handler http.Handler, limits httpserver.Limits) (addr string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = httpserver.ServeListener(ctx, ln, handler, limits, 5*time.Second, discard)
	}()
	return ln.Addr().String(), func() { cancel(); <-done }, nil
}

// publisherAlone has Senders goroutines publish the bodies as ingest
// publishes them (kafka.NewEventMessage: same key, headers and body; the
// same Publisher), one message a call, with no HTTP, no signature and no
// parsing on the clock: the ceiling of ingest's publish path.
func publisherAlone(ctx context.Context, cfg Config, bodies [][]byte) (Figure, error) {
	topic := topicName("publisher")
	envs := make([]stripeevent.Envelope, len(bodies))
	for i, b := range bodies {
		var err error
		if envs[i], err = stripeevent.Parse(b); err != nil {
			return Figure{}, err
		}
	}
	pub, err := kafka.NewPublisher(kafka.PublisherConfig{Brokers: cfg.Brokers, ClientID: "bench-publisher"}, nil)
	if err != nil {
		return Figure{}, err
	}
	defer pub.Close()
	// Warm up: the topic exists and the connection is open before the clock starts.
	if err := pub.Publish(topic, kafka.NewEventMessage(bodies[0], envs[0], time.Now())); err != nil {
		return Figure{}, fmt.Errorf("warm-up: %w", err)
	}
	var next atomic.Int64
	lats := make([][]time.Duration, cfg.Senders)
	errs := make([]error, cfg.Senders)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range cfg.Senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(bodies) {
					return
				}
				t := time.Now()
				if err := pub.Publish(topic, kafka.NewEventMessage(bodies[i], envs[i], t)); err != nil {
					errs[w] = fmt.Errorf("message %d: %w", i, err)
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
			errs[w] = ctx.Err()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Figure{}, err
	}
	return figure(fmt.Sprintf("ceiling: kafka.Publisher alone (%d goroutines)", cfg.Senders), len(bodies), elapsed, slices.Concat(lats...)), nil
}

// request is one webhook as the senders post it: the body and its header lines.
type request struct {
	body   []byte
	header []string
}

// signed makes a request of each body, signed as Stripe signs (Stripe's cost,
// not ours: done before the clock starts).
func signed(bodies [][]byte) []request {
	reqs := make([]request, len(bodies))
	for i, b := range bodies {
		reqs[i] = request{b, []string{
			"Content-Type: application/json; charset=utf-8",
			"User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)",
			"Stripe-Signature: " + stripeevent.Sign(b, time.Now(), secret),
		}}
	}
	return reqs
}

// postAll has cfg.Senders goroutines post reqs to url over keep-alive HTTP,
// each answer a 200, after a warm-up request on every connection (which also
// creates the topic). profile, when set, receives a CPU profile of the
// measurement.
func postAll(ctx context.Context, cfg Config, name, url string, reqs []request, profile io.Writer) (Figure, error) {
	// The load generator runs on the same CPUs as the service: a Poster
	// writes the requests on raw keep-alive connections, as wrk does.
	poster, err := loadgen.NewPoster(url, cfg.Senders)
	if err != nil {
		return Figure{}, err
	}
	defer poster.Close()
	send := func(r request) error {
		status, err := poster.Post(ctx, r.header, r.body)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		return err
	}
	warm := make([][]byte, cfg.Senders)
	for i := range warm {
		warm[i] = []byte(fmt.Sprintf(`{"id":"evt_warm%d","type":"bench.warm_up","data":{"object":{"id":"x%d"}}}`, i, i))
	}
	warmReqs := signed(warm)
	var wg sync.WaitGroup
	warmErr := make([]error, cfg.Senders)
	for i := range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			warmErr[i] = send(warmReqs[i])
		}()
	}
	wg.Wait()
	if err := errors.Join(warmErr...); err != nil {
		return Figure{}, fmt.Errorf("warm-up: %w", err)
	}

	if profile != nil {
		if err := pprof.StartCPUProfile(profile); err != nil {
			return Figure{}, err
		}
		defer pprof.StopCPUProfile()
	}
	var next atomic.Int64
	lats := make([][]time.Duration, cfg.Senders)
	errs := make([]error, cfg.Senders)
	start := time.Now()
	for w := range cfg.Senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(reqs) {
					return
				}
				t := time.Now()
				if err := send(reqs[i]); err != nil {
					errs[w] = fmt.Errorf("message %d: %w", i, err)
					return
				}
				lats[w] = append(lats[w], time.Since(t))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return Figure{}, err
	}
	return figure(name, len(reqs), elapsed, slices.Concat(lats...)), nil
}

func figure(name string, n int, elapsed time.Duration, lat []time.Duration) Figure {
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return Figure{Name: name, Messages: n, Elapsed: elapsed, PerSecond: float64(n) / elapsed.Seconds(), P50: pct(0.50), P99: pct(0.99)}
}
