package replay

import (
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows how far a replay is: a bar on a terminal, otherwise a log
// line every interval (a bar's carriage returns make a mess of log files).
type progress struct {
	bar    *progressbar.ProgressBar
	logger *slog.Logger
	total  int64
	start  time.Time

	mu   sync.Mutex
	done int64
	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(cfg Config, total int64, logger *slog.Logger) *progress {
	p := &progress{logger: logger, total: total, start: time.Now(), stop: make(chan struct{})}
	if cfg.Terminal && cfg.Progress != nil {
		p.bar = progressbar.NewOptions64(total,
			progressbar.OptionSetWriter(cfg.Progress),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { _, _ = cfg.Progress.Write([]byte("\n")) }),
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
				p.line("replay progress")
			}
		}
	})
	return p
}

func (p *progress) add(n int) {
	p.mu.Lock()
	p.done += int64(n)
	p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Add(n)
	}
}

func (p *progress) line(msg string) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	elapsed := time.Since(p.start)
	rate := float64(done) / elapsed.Seconds()
	eta := "unknown"
	if rate > 0 {
		eta = (time.Duration(float64(max(p.total-done, 0))/rate) * time.Second).Round(time.Second).String()
	}
	p.logger.Info(msg, "done", done, "total", p.total, "rate_per_sec", int64(rate), "eta", eta)
}

func (p *progress) close() {
	if p.bar != nil {
		_ = p.bar.Finish()
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.line("replay progress")
}
