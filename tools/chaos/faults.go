package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// FaultResult is what one fault did and how long the pipeline took to heal.
type FaultResult struct {
	Fault
	Started time.Duration // since the stream started
	// Ready is from the fault to the broken part answering again (a restarted
	// process ready, the proxy restored); zero when it does not apply.
	Ready time.Duration
	// Healed is from the fault to the pipeline doing its job again: for
	// ingest and the broker the first 2xx after it, for writers and the
	// PostgreSQL cut every event accepted before it stored, for a notifier
	// every subscriber it dropped subscribed again, for duplicates every
	// re-sent event answered 2xx.
	Healed time.Duration
	OK     bool
	Note   string
}

// faulter injects faults into a running pipeline and watches it heal.
type faulter struct {
	cfg    Config
	c      *cluster
	send   *sender
	store  *storeWatcher
	subs   []*subscriber
	rng    *rand.Rand // for picking duplicates; seeded
	origin time.Time  // the stream's start
}

// run applies the schedule in order, each fault after the previous one
// healed (or timed out), and never before its planned time.
func (f *faulter) run(ctx context.Context, schedule []Fault) []FaultResult {
	var out []FaultResult
	for _, fault := range schedule {
		select {
		case <-ctx.Done():
			return out
		case <-time.After(time.Until(f.origin.Add(fault.At))):
		}
		res := f.apply(ctx, fault)
		fmt.Fprintf(f.cfg.Out, "  %6.1fs  %-26s ready %-8s healed %-8s %s\n",
			res.Started.Seconds(), res.Fault.String(), short(res.Ready), short(res.Healed), res.Note)
		out = append(out, res)
	}
	return out
}

func (f *faulter) apply(ctx context.Context, fault Fault) FaultResult {
	t0 := time.Now()
	res := FaultResult{Fault: fault, Started: t0.Sub(f.origin)}
	hctx, cancel := context.WithTimeout(ctx, f.cfg.HealTimeout)
	defer cancel()

	var healed func() bool
	var err error
	switch fault.Kind {
	case KillService, RestartBroker:
		comp := f.c.component(fault.Target)
		var dropped []*subscriber
		if url, ok := f.notifierURL(fault.Target); ok {
			dropped = f.connectedTo(url)
		}
		comp.kill()
		sleep(ctx, fault.Down)
		if err = comp.start(hctx); err != nil {
			break
		}
		res.Ready = time.Since(t0)
		restarted := time.Now()
		switch {
		case fault.Target == "webhook-ingest":
			healed = func() bool { return !f.send.firstOKAfter(t0).IsZero() }
		case fault.Kind == RestartBroker:
			healed = func() bool { return !f.send.firstOKAfter(restarted).IsZero() && f.store.caughtUp(t0) }
		case len(dropped) > 0 || isNotifier(fault.Target):
			healed = func() bool {
				for _, s := range dropped {
					if !s.subscribedSince(t0) {
						return false
					}
				}
				return true
			}
			res.Note = fmt.Sprintf("%d subscribers dropped", len(dropped))
		default: // an event-writer
			healed = func() bool { return f.store.caughtUp(t0) }
		}
	case CrashLoop:
		comp := f.c.component(fault.Target)
		comp.kill()
		sleep(ctx, fault.Down)
		if err = comp.start(hctx); err != nil {
			break
		}
		sleep(ctx, time.Duration(f.rng.Int64N(int64(2*time.Second))))
		comp.kill()
		sleep(ctx, fault.Down)
		if err = comp.start(hctx); err != nil {
			break
		}
		res.Ready = time.Since(t0)
		healed = func() bool { return f.store.caughtUp(t0) }
	case CutPostgres:
		f.c.proxy.Cut()
		sleep(ctx, fault.Down)
		f.c.proxy.Restore()
		res.Ready = time.Since(t0)
		restored := time.Now()
		healed = func() bool { return f.store.caughtUp(restored) }
	case Duplicates:
		healed, res.Note = f.duplicates(hctx, fault.Count)
	}
	if err == nil {
		err = waitFor(hctx, healed)
	}
	res.Healed = time.Since(t0)
	res.OK = err == nil
	if err != nil {
		res.Note = fmt.Sprintf("NOT HEALED within %s: %v", f.cfg.HealTimeout, err)
		if fault.Kind != Duplicates && !isNotifier(fault.Target) {
			res.Note += fmt.Sprintf("; %d accepted events not stored; %s",
				f.store.pendingCount(), describeWriterGroup([]string{f.c.brokerAddr}))
		}
	}
	return res
}

// duplicates sends count already-accepted events again, a third of them
// twice at once, as Stripe does when its first attempt timed out on its side.
func (f *faulter) duplicates(ctx context.Context, count int) (func() bool, string) {
	acc := f.send.accepted()
	if len(acc) == 0 {
		return func() bool { return true }, "nothing accepted yet"
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	total := 0
	for i := range count {
		ev := acc[f.rng.IntN(len(acc))]
		copies := 1
		if i%3 == 0 {
			copies = 2
		}
		for range copies {
			total++
			wg.Go(func() {
				if f.send.deliver(ctx, ev, true) {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return func() bool {
		select {
		case <-done:
			return true
		default:
			return false
		}
	}, fmt.Sprintf("%d deliveries of %d accepted events", total, count)
}

func (f *faulter) notifierURL(target string) (string, bool) {
	for i := range f.c.notifiers {
		if target == fmt.Sprintf("notifier-%d", i+1) {
			return f.c.notifiers[i], true
		}
	}
	return "", false
}

func isNotifier(target string) bool { return len(target) > 9 && target[:9] == "notifier-" }

// connectedTo is the subscribers whose live connection is to url.
func (f *faulter) connectedTo(url string) []*subscriber {
	var out []*subscriber
	for _, s := range f.subs {
		s.mu.Lock()
		if s.current == url {
			out = append(out, s)
		}
		s.mu.Unlock()
	}
	return out
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// short formats a duration for the table: "1.23s", or "-" for none.
func short(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}
