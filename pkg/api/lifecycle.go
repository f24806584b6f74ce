package api

import (
	"context"
	"log/slog"
	"strconv"
)

// logLifecycle writes the INFO line of a step in an anfrage's life
// (created, sent, answered) once the step has committed. The line carries
// the event the step emitted as every line about an event does: its type,
// id (the outbox row id, which becomes the CloudEvent id) and key (the
// anfrage id); ids are the outbox ids of the step, its lifecycle event
// first. Patients appear by id only, never by name.
func (s *Server) logLifecycle(ctx context.Context, msg, eventType string, anfrageID int64, ids []string, attrs ...slog.Attr) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	id := ""
	if len(ids) > 0 {
		id = ids[0]
	}
	key := strconv.FormatInt(anfrageID, 10)
	all := append([]slog.Attr{slog.String("type", eventType), slog.String("id", id), slog.String("key", key),
		slog.Int64("anfrage_id", anfrageID)}, attrs...)
	s.log.LogAttrs(ctx, slog.LevelInfo, msg, all...)
}
