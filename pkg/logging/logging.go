// Package logging builds the process logger: log/slog, JSON by default.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
)

// Config is the logging part of every service's settings.
type Config struct {
	Level  string `env:"LOG_LEVEL, default=info" help:"the least severe log level written: debug, info, warn or error"`
	Format string `env:"LOG_FORMAT, default=json" help:"log line format on stderr: json or text"`
}

// New builds a logger writing to w, tagged with the service name; a line
// logged with a context in a span carries its trace_id (Traced).
func New(cfg Config, service string, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		return nil, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch strings.ToLower(cfg.Format) {
	case "json", "":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("LOG_FORMAT: %q is neither json nor text", cfg.Format)
	}
	return slog.New(Traced(h)).With("service", service), nil
}

// Watermill adapts logger for watermill and watermill-kafka: their Info
// lines (a handler starting, a subscriber closing) become Debug, their
// errors stay errors, each line says it came from watermill, and a line
// repeated within WatermillRepeatEvery is written once (RateLimited).
func Watermill(logger *slog.Logger) watermill.LoggerAdapter {
	limited := slog.New(RateLimited(logger.Handler(), WatermillRepeatEvery))
	return watermill.NewSlogLoggerWithLevelMapping(limited.With("component", "watermill"),
		map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
}

// WatermillRepeatEvery is how often one of watermill's lines may repeat.
const WatermillRepeatEvery = 10 * time.Second
