package followup

// The follow-up of one anfrage: claim it, ask the neighbours holding
// nothing, record the call (see the package comment).

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

type outcome int

const (
	scheduled outcome = iota
	adopted
	skipped
)

// followUp claims one candidate and gives it its call. In a dry run it only
// reports what it would do.
func (j *Job) followUp(ctx context.Context, c store.FollowUpCandidate, p plan) (outcome, error) {
	if p.dryRun {
		therapist, existing, err := j.prepare(ctx, c)
		if err != nil {
			return 0, err
		}
		date, at := j.slot(therapist, existing, p)
		if existing.ID != 0 {
			j.Log.InfoContext(ctx, "dry run: would adopt the existing follow-up call", "anfrage_id", c.ID, "therapist_id", c.TherapistID,
				"phone_call_id", existing.ID, "scheduled_date", date, "scheduled_time", at)
			return adopted, nil
		}
		j.Log.InfoContext(ctx, "dry run: would schedule a follow-up call", "anfrage_id", c.ID, "therapist_id", c.TherapistID, "scheduled_date", date, "scheduled_time", at)
		return scheduled, nil
	}

	a, claim, ok, err := j.claim(ctx, c, p)
	if err != nil {
		return 0, err
	}
	if !ok {
		j.Log.DebugContext(ctx, "follow-up skipped: no longer due or claimed by a concurrent run", "anfrage_id", c.ID)
		return skipped, nil
	}
	ev, out, err := j.call(ctx, a, p)
	if err != nil {
		if rerr := store.ReleaseClaim(ctx, j.Pool, a.ID, claim.Token); rerr != nil {
			j.Log.WarnContext(ctx, "follow-up: claim not released; it expires by itself", "anfrage_id", a.ID, "error", rerr.Error())
		}
		return 0, err
	}
	var eventID string
	err = store.WithTx(ctx, j.Pool, func(tx pgx.Tx) error {
		held, err := store.FinishClaim(ctx, tx, a.ID, claim.Token)
		if err != nil {
			return err
		}
		if !held {
			return fmt.Errorf("follow-up of anfrage %d: its claim expired while the communication service was asked, and another run took it over; phone call %d exists but is not recorded here", a.ID, ev.PhoneCallID)
		}
		if err := store.SetFollowUpCall(ctx, tx, a.ID, ev.PhoneCallID); err != nil {
			return err
		}
		ids, err := outbox.Add(ctx, tx, events.NewAnfrageFollowUpScheduled(ev))
		if err == nil {
			eventID = ids[0]
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	// The event's type, id and key, as on every line about an event, so
	// the line can be followed to the event's publication.
	j.Log.InfoContext(ctx, "follow-up call scheduled", "type", events.AnfrageFollowUpScheduled, "id", eventID,
		"key", strconv.FormatInt(ev.AnfrageID, 10), "anfrage_id", ev.AnfrageID, "therapist_id", ev.TherapistID,
		"phone_call_id", ev.PhoneCallID, "adopted", out == adopted,
		"scheduled_date", ev.ScheduledDate, "scheduled_time", ev.ScheduledTime)
	return out, nil
}

// claim claims candidate c for this run in one short transaction: ok is
// false when it is not due any more or another run holds it (its row lock
// or its claim).
func (j *Job) claim(ctx context.Context, c store.FollowUpCandidate, p plan) (a store.FollowUpCandidate, claim store.Claim, ok bool, err error) {
	timeout := j.NeighbourTimeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ttl := store.ClaimTTL(timeout)
	err = store.WithTx(ctx, j.Pool, func(tx pgx.Tx) error {
		var due bool
		a, due, err = store.ClaimFollowUp(ctx, tx, c.ID, p.cutoff)
		if err != nil || !due {
			return err
		}
		claim, ok, err = store.ClaimAnfrage(ctx, tx, a.ID, ttl)
		return err
	})
	return a, claim, ok, err
}

// call gives claimed anfrage a its phone call, holding nothing: the call
// the communication service already has for it (adopted), or a new one.
func (j *Job) call(ctx context.Context, a store.FollowUpCandidate, p plan) (events.AnfrageFollowUpScheduledData, outcome, error) {
	therapist, existing, err := j.prepare(ctx, a)
	if err != nil {
		return events.AnfrageFollowUpScheduledData{}, 0, err
	}
	date, at := j.slot(therapist, existing, p)
	callID, out := existing.ID, adopted
	if callID == 0 {
		out = scheduled
		callID, err = j.Communication.CreatePhoneCall(ctx, neighbours.PhoneCall{
			TherapistID:          a.TherapistID,
			TherapeutenanfrageID: a.ID,
			GeplantesDatum:       date,
			GeplanteZeit:         at,
			Notizen:              fmt.Sprintf("Follow-up für Anfrage A%d", a.ID),
		})
		if err != nil {
			return events.AnfrageFollowUpScheduledData{}, 0, fmt.Errorf("create follow-up call for anfrage %d: %w", a.ID, err)
		}
	}
	return events.AnfrageFollowUpScheduledData{
		AnfrageID:     a.ID,
		TherapistID:   a.TherapistID,
		PhoneCallID:   callID,
		ScheduledDate: date,
		ScheduledTime: at,
	}, out, nil
}

// prepare reads what the follow-up of anfrage c needs from the neighbours:
// its therapist, and the call the communication service already has for the
// anfrage (ID 0 if none; the lowest id if several). The two requests go out
// together: one round trip instead of two.
func (j *Job) prepare(ctx context.Context, c store.FollowUpCandidate) (neighbours.Therapist, neighbours.PhoneCallRecord, error) {
	type lookup struct {
		therapist neighbours.Therapist
		err       error
	}
	therapistCh := make(chan lookup, 1)
	go func() {
		t, err := j.Therapists.Therapist(ctx, c.TherapistID)
		therapistCh <- lookup{t, err}
	}()
	calls, callsErr := j.Communication.PhoneCallsForAnfrage(ctx, c.ID)
	th := <-therapistCh
	switch {
	case th.err != nil:
		return neighbours.Therapist{}, neighbours.PhoneCallRecord{}, fmt.Errorf("therapist %d of anfrage %d: %w", c.TherapistID, c.ID, th.err)
	case callsErr != nil:
		return neighbours.Therapist{}, neighbours.PhoneCallRecord{}, fmt.Errorf("phone calls of anfrage %d: %w", c.ID, callsErr)
	case len(calls) == 0:
		return th.therapist, neighbours.PhoneCallRecord{}, nil
	}
	first := slices.MinFunc(calls, func(a, b neighbours.PhoneCallRecord) int { return cmp.Compare(a.ID, b.ID) })
	return th.therapist, first, nil
}

// slot is the call's date (YYYY-MM-DD) and time (HH:MM). A new call (existing
// has ID 0) goes to the next working day, at the start of the therapist's
// first phone hours that weekday. An adopted call keeps the date and time the
// communication service has for it, so the event announces when the call
// really happens; only a part the service left empty is chosen as for a new
// call (the time then from the phone hours of the call's own date).
func (j *Job) slot(t neighbours.Therapist, existing neighbours.PhoneCallRecord, p plan) (date, at string) {
	day := p.day
	if d, err := time.Parse(time.DateOnly, existing.GeplantesDatum); err == nil {
		day = d
	}
	at = existing.GeplanteZeit
	if at == "" {
		at = matching.CallTime(t.TelefonischeErreichbarkeit, day, j.DefaultTime)
	}
	return day.Format(time.DateOnly), at
}
