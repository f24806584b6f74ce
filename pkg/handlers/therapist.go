package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/directory"
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
//
// WithCopy makes it keep matching's copy as well (enhancements A1): every
// therapist.* (created, updated, blocked, unblocked) fetches the therapist
// and stores him, besides what blocked and unblocked do; a change re-checks
// his unsent anfragen after the commit.
func Therapist(pool *pgxpool.Pool, pub inbox.Publisher, log *slog.Logger, opts ...Option) *inbox.Processor {
	log = logger(log)
	o := apply(opts)
	p := &inbox.Processor{
		Consumer:  TherapistGroup,
		Pool:      pool,
		Publisher: pub,
		Routes: map[string]inbox.Func{
			events.TherapistBlocked: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				return therapistBlocked(ctx, tx, in, log)
			},
			events.TherapistUnblocked: func(_ context.Context, _ pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				therapistUnblocked(in, log)
				return nil, nil
			},
		},
	}
	if c := o.copy; c.Directory != nil {
		blocked, unblocked := p.Routes[events.TherapistBlocked], p.Routes[events.TherapistUnblocked]
		p.Routes = nil
		fetch := fetchTherapist(c)
		p.Prepared = map[string]inbox.Prepare{
			events.TherapistCreated:   refresh(c, log, fetch, nil),
			events.TherapistUpdated:   refresh(c, log, fetch, nil),
			events.TherapistBlocked:   refresh(c, log, fetch, blocked),
			events.TherapistUnblocked: refresh(c, log, fetch, unblocked),
		}
	}
	return p
}

func therapistUnblocked(in events.Inbound, log *slog.Logger) {
	var p struct {
		TherapistID json.RawMessage `json:"therapist_id"`
	}
	_ = json.Unmarshal(in.Payload, &p)
	log.Info("therapist unblocked: exclusion lists are not changed automatically, manual review required",
		slog.Any("", in), slog.String("therapist_id", string(p.TherapistID)))
}

// fetchTherapist fetches the therapist an event names; an outage fails the
// event, to be delivered again.
func fetchTherapist(c Copy) fetchFunc {
	return func(ctx context.Context, in events.Inbound) (storeFunc, error) {
		id, err := events.ParseTherapistID(in.Payload)
		if err != nil {
			return nil, err
		}
		f, err := c.Directory.FetchTherapist(ctx, id)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx pgx.Tx, cause string) (directory.Stored, error) {
			return c.Directory.StoreTherapist(ctx, tx, f, cause)
		}, nil
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
	at := in.At
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
