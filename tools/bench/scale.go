package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stripeline/stripeline/tools/devstack"
	"github.com/stripeline/stripeline/tools/loadgen"
)

// NotifierScale is many subscribed connections spread over several notifier
// instances on this machine: a process may hold at most 20,000 open files,
// so 100,000 connections need six instances and several client processes,
// each client opening its connections from a loopback address of its own
// (one address pair has some 28k ephemeral ports).
type NotifierScale struct {
	Connections int `json:"connections"`
	Instances   int `json:"instances"`
	Clients     int `json:"clients"`
	// RampSeconds is from starting the clients to every connection
	// subscribed (every subscribe round trip answered).
	RampSeconds float64 `json:"ramp_seconds"`
	// PerInstance is each instance's connections, RSS per idle subscribed
	// connection, and deliveries to its subscribers.
	PerInstance []ScaleInstance `json:"per_instance"`

	// After the RSS reading: charge webhooks through webhook-ingest at Rate
	// for DurationSeconds, each for the id one subscribed connection pinned,
	// drawn from all of them. Send is the POSTs (their latency is ingest's
	// answer, after the broker's ack); Delivery is every accepted one
	// matched against what the connections received, POST → frame.
	Rate            float64          `json:"rate"`
	DurationSeconds float64          `json:"duration_seconds"`
	Send            loadgen.Result   `json:"send"`
	Delivery        loadgen.Delivery `json:"delivery"`
	// DrainSeconds is from the last POST's answer to every accepted event
	// received, or to 10 s without a delivery (3 minutes at most).
	DrainSeconds float64 `json:"drain_seconds"`
}

// ScaleInstance is one notifier instance of the scale step.
type ScaleInstance struct {
	Connections  int     `json:"connections"`
	RSSBeforeKiB int64   `json:"rss_before_kib"`
	RSSAfterKiB  int64   `json:"rss_after_kib"`
	PerConnKiB   float64 `json:"kib_per_connection"`
	// Dropped is its connections that ended before the step released them.
	Dropped  int64            `json:"dropped"`
	Delivery loadgen.Delivery `json:"delivery"`
}

// After the last POST the step waits for the last deliveries while they
// still come: until scaleStall passes with none, or scaleDrain in all. A
// notifier far behind is then told from one that lost events.
const (
	scaleStall = 10 * time.Second
	scaleDrain = 3 * time.Minute
)

// notifierScale starts cfg.ScaleInstances notifiers besides the stack's
// own, and cfg.ScaleClients load generators, client i holding its share of
// cfg.ScaleConnections idle subscribed connections to instance i mod the
// instances, from 127.0.0.(2+i). It measures the ramp and each instance's RSS
// per connection, then sends webhooks at cfg.ScaleRate for cfg.ScaleDuration
// from a load generator of its own (spread) and matches each accepted one
// against what the clients received.
func (b *run) notifierScale(ctx context.Context, r *Results) error {
	cfg := b.cfg
	s := NotifierScale{Connections: cfg.ScaleConnections, Instances: cfg.ScaleInstances, Clients: cfg.ScaleClients}
	if s.Instances < 1 || s.Clients < s.Instances || s.Clients > 250 {
		return fmt.Errorf("scale: %d instances and %d clients: want at least one instance, at least one client per instance and at most 250 clients", s.Instances, s.Clients)
	}
	var (
		urls []string
		pids []int
	)
	for i := range s.Instances {
		addr, err := devstack.FreeAddr()
		if err != nil {
			return err
		}
		opsAddr, err := devstack.FreeAddr()
		if err != nil {
			return err
		}
		name := "notifier-scale-" + strconv.Itoa(i+1)
		p, err := devstack.Start(devstack.ProcessConfig{
			Name: name,
			Path: filepath.Join(b.bin, "notifier"),
			Env: devstack.OnlyItsSecrets("notifier", append(b.stack.Env(),
				"NOTIFIER_ADDR="+addr, "NOTIFIER_OPS_ADDR="+opsAddr, "LOG_LEVEL=warn")),
		})
		if err != nil {
			return err
		}
		defer p.Stop(30 * time.Second)
		if err := devstack.WaitReady(ctx, p, "http://"+opsAddr+"/readyz"); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		urls, pids = append(urls, "ws://"+addr+"/ws"), append(pids, p.Pid())
	}
	s.PerInstance = make([]ScaleInstance, s.Instances)
	for i, pid := range pids {
		var err error
		if s.PerInstance[i].RSSBeforeKiB, err = rssKiB(pid); err != nil {
			return err
		}
	}
	b.log.printf("scale: %d connections over %d notifiers from %d clients", s.Connections, s.Instances, s.Clients)
	start := time.Now()
	type result struct {
		i   int
		h   *held
		err error
	}
	results := make(chan result, s.Clients)
	clients := make([]*held, s.Clients)
	targets := make([]string, s.Clients) // SEED:N of each client, for the sender
	for i := range s.Clients {
		n := s.Connections / s.Clients
		if i < s.Connections%s.Clients {
			n++
		}
		s.PerInstance[i%s.Instances].Connections += n
		seed := cfg.Seed + 100 + uint64(i)
		targets[i] = strconv.FormatUint(seed, 10) + ":" + strconv.Itoa(n)
		go func() {
			h, err := b.holdConnections(ctx, urls[i%s.Instances], n, "127.0.0."+strconv.Itoa(2+i), seed)
			results <- result{i, h, err}
		}()
	}
	var firstErr error
	for range s.Clients {
		res := <-results
		if res.err != nil && firstErr == nil {
			firstErr = res.err
		}
		if res.h != nil {
			clients[res.i] = res.h
			defer res.h.release()
		}
	}
	if firstErr != nil {
		return firstErr
	}
	s.RampSeconds = time.Since(start).Seconds()
	time.Sleep(5 * time.Second) // let the heaps settle before reading RSS
	for i, pid := range pids {
		in := &s.PerInstance[i]
		var err error
		if in.RSSAfterKiB, err = rssKiB(pid); err != nil {
			return err
		}
		if in.Connections > 0 {
			in.PerConnKiB = float64(in.RSSAfterKiB-in.RSSBeforeKiB) / float64(in.Connections)
		}
	}
	r.NotifierScale = &s
	if cfg.ScaleRate <= 0 || cfg.ScaleDuration <= 0 {
		return nil
	}
	return b.scaleDeliveries(ctx, &s, clients, strings.Join(targets, ","))
}

// scaleDeliveries sends the webhooks, waits for the clients to have
// received as many events as were accepted (or to stop receiving), and tallies the
// deliveries per instance and overall.
func (b *run) scaleDeliveries(ctx context.Context, s *NotifierScale, clients []*held, targets string) error {
	cfg := b.cfg
	s.Rate, s.DurationSeconds = cfg.ScaleRate, cfg.ScaleDuration.Seconds()
	// A second's POSTs in flight: the offered rate holds unless a POST
	// takes over a second (with a quarter of that, a loaded machine's
	// 450 ms answers held a 1,000/s run to 536/s).
	senders := max(64, int(cfg.ScaleRate))
	b.log.printf("scale: webhooks at %.0f/s for %s from %d senders", cfg.ScaleRate, cfg.ScaleDuration, senders)
	var spread loadgen.SpreadResult
	if err := b.load(ctx, &spread, "spread", "--url", b.stack.URL("webhook-ingest")+"/webhooks/stripe",
		"--secret", b.stack.Config.WebhookSecret, "--targets", targets,
		"--rate", strconv.FormatFloat(cfg.ScaleRate, 'f', -1, 64), "--duration", cfg.ScaleDuration.String(),
		"--concurrency", strconv.Itoa(senders), "--seed", strconv.FormatUint(cfg.Seed+4, 10)); err != nil {
		return err
	}
	s.Send = spread.Send
	start, lastGot, lastMore := time.Now(), -1, time.Now()
	for time.Since(start) < scaleDrain && time.Since(lastMore) < scaleStall {
		got := 0
		for _, h := range clients {
			n, err := h.count()
			if err != nil {
				return fmt.Errorf("scale: counting deliveries: %w", err)
			}
			got += n
		}
		if got >= len(spread.Sent) {
			break
		}
		if got > lastGot {
			lastGot, lastMore = got, time.Now()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	s.DrainSeconds = time.Since(start).Seconds()
	reports := make([]loadgen.ReceiptReport, len(clients))
	for i, h := range clients {
		rep, err := h.finish()
		if err != nil {
			return fmt.Errorf("scale: client %d: %w", i+1, err)
		}
		reports[i] = rep.ReceiptReport
		s.PerInstance[i%s.Instances].Dropped += rep.Dropped
	}
	perInstance, overall := tallyScale(spread.Sent, reports, s.Instances)
	for i := range s.PerInstance {
		s.PerInstance[i].Delivery = perInstance[i].Delivery()
	}
	s.Delivery = overall.Delivery()
	return nil
}

// tallyScale matches the accepted webhooks against each client's receipts
// (client i is group i, on instance i mod instances) and merges the
// clients' tallies per instance and overall.
func tallyScale(sent []loadgen.Sent, clients []loadgen.ReceiptReport, instances int) (perInstance []loadgen.Tally, overall loadgen.Tally) {
	perInstance = make([]loadgen.Tally, instances)
	for i, t := range loadgen.Match(sent, clients) {
		perInstance[i%instances].Merge(t)
		overall.Merge(t)
	}
	return perInstance, overall
}
