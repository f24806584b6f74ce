package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
)

// Therapist returns the handler of therapist-events. therapist.blocked
// cancels the therapist's unsent anfragen and excludes the therapist for the
// searches in its open anfragen; therapist.unblocked is logged for manual
// review; therapist.updated and every other type is acknowledged without
// effect.
func Therapist(pool *pgxpool.Pool, pub inbox.Publisher, log *slog.Logger) *inbox.Processor {
	log = logger(log)
	return &inbox.Processor{
		Consumer:  TherapistGroup,
		Pool:      pool,
		Publisher: pub,
		Routes: map[string]inbox.Func{
			events.TherapistBlocked: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				return therapistBlocked(ctx, tx, in, log)
			},
			events.TherapistUnblocked: func(_ context.Context, _ pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				var p struct {
					TherapistID json.RawMessage `json:"therapist_id"`
				}
				_ = json.Unmarshal(in.Payload, &p)
				log.Info("therapist unblocked: exclusion lists are not changed automatically, manual review required",
					slog.Any("", in), slog.String("therapist_id", string(p.TherapistID)))
				return nil, nil
			},
		},
	}
}

// BlockTexts are the texts a therapist.blocked writes for a reason: the
// anfrage note, the anfrage's storniert_grund and the event's reason, and
// the exclusion entry's reason. Without a reason (null or absent) the texts
// say only "Therapist blocked", not "Therapist blocked - Therapist blocked".
func BlockTexts(reason string) (note, cancelReason, exclusionReason string) {
	if reason == "" || reason == events.DefaultBlockReason {
		return "Cancelled: " + events.DefaultBlockReason, events.DefaultBlockReason, events.DefaultBlockReason
	}
	return "Cancelled: Therapist blocked - " + reason, reason, "Therapist blocked: " + reason
}

// therapistBlocked runs three set-based statements whatever the number of
// anfragen: exclude the therapist for the searches of its open anfragen,
// cancel its unsent anfragen, and (through the outbox) one insert of the
// therapeutenanfrage.cancelled events.
func therapistBlocked(ctx context.Context, tx pgx.Tx, in events.Inbound, log *slog.Logger) ([]events.Outgoing, error) {
	d, err := events.ParseTherapistBlocked(in.Payload)
	if err != nil {
		return nil, err
	}
	at := now()
	note, cancelReason, exclusionReason := BlockTexts(d.Reason)
	entry, err := json.Marshal(matching.ExclusionEntry{
		ID: d.TherapistID, ExcludedAt: matching.FormatTimestamp(at), Reason: exclusionReason,
	})
	if err != nil {
		return nil, fmt.Errorf("therapist.blocked: exclusion entry: %w", err)
	}
	// Exclusion first: the anfragen cancelled next are open until then, and
	// their searches must be excluded as well.
	excluded, err := store.ExcludeTherapistFromOpenAnfragen(ctx, tx, d.TherapistID, entry, at)
	if err != nil {
		return nil, err
	}
	cancelled, err := store.CancelUnsentAnfragen(ctx, tx, d.TherapistID, cancelReason,
		matching.Note(at, matching.AuthorSystem, note), at)
	if err != nil {
		return nil, err
	}
	out := make([]events.Outgoing, 0, len(cancelled))
	for _, id := range cancelled {
		out = append(out, events.NewAnfrageCancelled(events.AnfrageCancelledData{
			AnfrageID: id, TherapistID: d.TherapistID, Reason: cancelReason,
		}))
	}
	log.Info("therapist blocked: unsent anfragen cancelled, therapist excluded", slog.Any("", in),
		slog.Int64("therapist_id", d.TherapistID), slog.String("reason", cancelReason),
		slog.Int("cancelled_anfragen", len(cancelled)), slog.Int("updated_exclusion_lists", len(excluded)))
	return out, nil
}
