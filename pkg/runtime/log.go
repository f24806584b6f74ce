package runtime

import (
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/curavani/matching/config"
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
