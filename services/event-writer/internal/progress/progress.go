// Package progress shows how far a one-shot command is (replay, backfill):
// a bar on a terminal, otherwise a log line every interval (a bar's
// carriage returns make a mess of log files).
package progress

import (
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Config says where progress goes.
type Config struct {
	Name     string    // the command: "replay" logs "replay progress"
	Out      io.Writer // the bar's, when Terminal
	Terminal bool
	Interval time.Duration // between log lines; zero is 5 s
}

// Progress counts what is done against a total, which may be unknown.
type Progress struct {
	bar    *progressbar.ProgressBar
	logger *slog.Logger
	name   string
	total  int64 // < 0: unknown
	start  time.Time

	mu   sync.Mutex
	done int64
	stop chan struct{}
	wg   sync.WaitGroup
}

// New starts showing progress towards total (< 0: unknown, a spinner).
func New(cfg Config, total int64, logger *slog.Logger) *Progress {
	p := &Progress{logger: logger, name: cfg.Name, total: total, start: time.Now(), stop: make(chan struct{})}
	if cfg.Terminal && cfg.Out != nil {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(cfg.Out),
			progressbar.OptionSetDescription(cfg.Name),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { _, _ = cfg.Out.Write([]byte("\n")) }),
		)
		return p
	}
	interval := cfg.Interval
	if interval <= 0 {
		interval = 5 * time.Second
	}
	p.wg.Go(func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				p.line()
			}
		}
	})
	return p
}

// Add counts n more done. A nil Progress shows nothing.
func (p *Progress) Add(n int) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.done += int64(n)
	p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *Progress) line() {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	elapsed := time.Since(p.start)
	rate := float64(done) / elapsed.Seconds()
	eta, total := "unknown", any("unknown")
	if p.total >= 0 {
		total = p.total
		if rate > 0 {
			eta = (time.Duration(float64(max(p.total-done, 0))/rate) * time.Second).Round(time.Second).String()
		}
	}
	p.logger.Info(p.name+" progress", "done", done, "total", total, "rate_per_sec", int64(rate), "eta", eta)
}

// Close ends the bar, or logs the last line.
func (p *Progress) Close() {
	if p == nil {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.line()
}
