package runtime

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
)

// NewLogger returns the service's logger: JSON lines on stdout (LOG_FORMAT=text
// for humans) at LOG_LEVEL. The configuration was validated by config.Load,
// so an unknown level falls back to INFO.
func NewLogger(cfg config.Logging) *slog.Logger {
	return newLogger(os.Stdout, cfg)
}

func newLogger(w io.Writer, cfg config.Logging) *slog.Logger {
	level, err := config.ParseLevel(cfg.Level)
	if err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(cfg.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// EventAttrs are the attributes every log line about a consumed event
// carries: its type, id and partition key, under the names the outbox
// publisher uses for the events it publishes (type, id, key), so that one
// query finds an event's lines on both sides.
func EventAttrs(in events.Inbound) []any {
	return []any{slog.String("type", in.Type), slog.String("id", in.ID), slog.String("key", in.Key)}
}
