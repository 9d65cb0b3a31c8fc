package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/stripeline/stripeline/tools/devstack"
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
	// PerInstance is each instance's connections and RSS per idle
	// subscribed connection.
	PerInstance []ScaleInstance `json:"per_instance"`
}

// ScaleInstance is one notifier instance of the scale step.
type ScaleInstance struct {
	Connections  int     `json:"connections"`
	RSSBeforeKiB int64   `json:"rss_before_kib"`
	RSSAfterKiB  int64   `json:"rss_after_kib"`
	PerConnKiB   float64 `json:"kib_per_connection"`
}

// notifierScale starts cfg.ScaleInstances notifiers besides the stack's
// own, and cfg.ScaleClients load generators, client i holding its share of
// cfg.ScaleConnections idle subscribed connections to instance i mod the
// instances, from 127.0.0.(2+i). It measures the ramp and each instance's RSS
// per connection. Delivery latency at this size is not measured here yet.
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
		h   *held
		err error
	}
	results := make(chan result, s.Clients)
	for i := range s.Clients {
		n := s.Connections / s.Clients
		if i < s.Connections%s.Clients {
			n++
		}
		s.PerInstance[i%s.Instances].Connections += n
		go func() {
			h, err := b.holdConnections(ctx, urls[i%s.Instances], n, "127.0.0."+strconv.Itoa(2+i), cfg.Seed+100+uint64(i))
			results <- result{h, err}
		}()
	}
	var firstErr error
	for range s.Clients {
		res := <-results
		if res.err != nil && firstErr == nil {
			firstErr = res.err
		}
		if res.h != nil {
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
	return nil
}
