package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/store"
)

// NewLogger returns the service's logger: JSON lines on stdout (LOG_FORMAT=text
// for humans) at LOG_LEVEL; a line logged with a context carries the id of
// its API request or job run (causeHandler). The configuration was validated by config.Load,
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
		return slog.New(causeHandler{slog.NewTextHandler(w, opts)})
	}
	return slog.New(causeHandler{slog.NewJSONHandler(w, opts)})
}

// withCauses returns log, whose lines logged with a context also say what
// the context's cause (store.WithCause) tells of their origin.
func withCauses(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(causeHandler); ok {
		return log
	}
	return slog.New(causeHandler{log.Handler()})
}

// causeHandler adds to a line logged with a context (InfoContext,
// LogAttrs(ctx, …)) the id of the API request (request_id) or job run
// (run_id) the context's cause names, so that every line of a request —
// the API's, the use case's — can be found by the id its answer carries
// in X-Request-Id. A consumed event's lines name it by type, id and key
// already.
type causeHandler struct{ slog.Handler }

func (h causeHandler) Handle(ctx context.Context, r slog.Record) error {
	if c, ok := store.CauseFrom(ctx); ok {
		switch {
		case c.RequestID != "":
			r.AddAttrs(slog.String("request_id", c.RequestID))
		case c.RunID != "":
			r.AddAttrs(slog.String("run_id", c.RunID))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h causeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return causeHandler{h.Handler.WithAttrs(attrs)}
}

func (h causeHandler) WithGroup(name string) slog.Handler {
	return causeHandler{h.Handler.WithGroup(name)}
}
