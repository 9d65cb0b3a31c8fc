package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stripeline/stripeline/pkg/subtoken"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// Run brings the pipeline up, streams and breaks it as cfg says, checks the
// outcome and returns the report. The error is for a run that could not be
// made (a build, a process that never came up); a run that was made and
// found something wrong returns a Report whose Failed is true.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	schedule := Schedule(cfg)
	out := cfg.Out
	fmt.Fprintf(out, "chaos: seed %d, %d events at %.0f/s, %d subscribers, %d faults\n",
		cfg.Seed, cfg.Events, cfg.Rate, cfg.Subscribers, len(schedule))

	if err := Build(ctx, cfg.BinDir, out); err != nil {
		return nil, err
	}
	c, err := startCluster(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w (logs in %s/logs)", err, cfg.DataDir)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = c.stop()
		}
	}()
	pool, err := pgxpool.New(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()

	// Everything random derives from the seed: the transactions, the events
	// and their order, the schedule, the duplicates picked.
	gen := loadgen.Seeded(cfg.Seed)
	pick := rand.New(rand.NewPCG(cfg.Seed, 0x50b))
	subs := make([]*subscriber, cfg.Subscribers)
	for i := range subs {
		id := gen.ID("ch_")
		subs[i] = &subscriber{
			id: id, home: i % len(c.notifiers), urls: c.notifiers,
			token:    subtoken.Sign([]byte(c.tokenKey), id, time.Now().Add(24*time.Hour)),
			received: map[string]time.Time{},
		}
	}
	chargeTypes := []string{"charge.succeeded", "charge.updated", "charge.refunded"}
	next := func() *sentEvent {
		if pick.Float64() < cfg.SubscribedShare {
			s := subs[pick.IntN(len(subs))]
			return &sentEvent{Event: gen.Charge(chargeTypes[pick.IntN(len(chargeTypes))], s.id), Subscriber: s.id}
		}
		return &sentEvent{Event: gen.Random()}
	}

	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancelRun()
	for _, s := range subs {
		bg.Go(func() { s.run(runCtx) })
	}
	if err := waitForCtx(ctx, 60*time.Second, func() bool {
		for _, s := range subs {
			if !s.subscribedSince(time.Time{}) {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, fmt.Errorf("subscribers did not all subscribe: %w", err)
	}

	store := newStoreWatcher(pool)
	bg.Go(func() { store.run(runCtx) })
	send := newSender(c.ingestURL, c.secret, cfg.MaxBackoff)
	send.onAccept = func(ev *sentEvent) { store.add(ev.ID, ev.Accepted) }

	origin := time.Now()
	fl := &faulter{cfg: cfg, c: c, send: send, store: store, subs: subs,
		rng: rand.New(rand.NewPCG(cfg.Seed, 0xd0b)), origin: origin}
	faultsDone := make(chan []FaultResult, 1)
	fmt.Fprintf(out, "chaos: streaming from %s (times below count from there); faults as they happen:\n", origin.UTC().Format(time.RFC3339Nano))
	go func() { faultsDone <- fl.run(runCtx, schedule) }()

	// Deliveries keep retrying after the stream ends, until the drain runs out.
	deliverCtx, cancelDeliver := context.WithCancel(runCtx)
	defer cancelDeliver()
	var faults []FaultResult
	var faultsOver bool
	send.stream(runCtx, deliverCtx, cfg.Rate, next, func(sent int) bool {
		if !faultsOver {
			select {
			case faults = <-faultsDone:
				faultsOver = true
			default:
			}
		}
		// At least Events, and on until the last fault healed, so every
		// fault happens under load.
		return sent < cfg.Events || !faultsOver
	})
	streamEnd := time.Now()
	fmt.Fprintf(out, "chaos: stream ended after %s; draining (up to %s)\n", short(streamEnd.Sub(origin)), cfg.DrainTimeout)

	drainCtx, cancelDrain := context.WithTimeout(ctx, cfg.DrainTimeout)
	defer cancelDrain()
	delivered := make(chan struct{})
	go func() { send.inflight.Wait(); close(delivered) }()
	select {
	case <-delivered:
	case <-drainCtx.Done():
		cancelDeliver()
		<-delivered
	}
	_ = waitFor(drainCtx, func() bool { return store.pendingCount() == 0 && allDelivered(cfg, send, subs) })

	r := &Report{Seed: cfg.Seed, Config: cfg, Started: origin, Stream: streamEnd.Sub(origin), Faults: faults}
	qctx, cancelQ := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancelQ()
	if err := r.check(qctx, pool, []string{c.brokerAddr}, send, subs, origin); err != nil {
		return nil, err
	}
	if r.Missing > 0 {
		r.WriterGroup = describeWriterGroup([]string{c.brokerAddr})
	}
	r.Timeline = timeline(origin, send, store, subs)
	cancelRun()
	bg.Wait()
	stopped = true
	if err := c.stop(); err != nil {
		r.StopErr = err.Error()
	}
	r.Duration = time.Since(origin)
	return r, nil
}

// allDelivered reports whether every subscriber has every event it must get.
func allDelivered(cfg Config, send *sender, subs []*subscriber) bool {
	byID := map[string]*subscriber{}
	for _, s := range subs {
		byID[s.id] = s
	}
	for _, ev := range send.snapshot() {
		if ev.Subscriber == "" || ev.Accepted.IsZero() {
			continue
		}
		s := byID[ev.Subscriber]
		if !s.has(ev.ID) && required(cfg, s, ev) {
			return false
		}
	}
	return true
}

// required says whether subscriber s must get ev: always, unless its next
// subscription after ev was accepted came later than the recovery window.
func required(cfg Config, s *subscriber, ev sentEvent) bool {
	next := s.nextSubscribe(ev.Accepted)
	return next.IsZero() || next.Sub(ev.Accepted) <= cfg.RecoveryWindow
}

func waitForCtx(ctx context.Context, d time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return waitFor(ctx, cond)
}
