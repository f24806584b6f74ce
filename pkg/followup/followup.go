// Package followup is the daily follow-up job (product spec §7): every
// anfrage sent at least FOLLOW_UP_THRESHOLD_DAYS calendar days ago that has no
// answer, is not cancelled and has no phone call gets one follow-up call to
// its therapist through the communication service, and the event
// therapeutenanfrage.follow_up_scheduled through the outbox.
//
// The job never creates a second call for an anfrage, whatever overlaps or
// fails: each anfrage is claimed with a row lock (FOR UPDATE SKIP LOCKED) in
// its own short transaction, which stays open while the communication
// service is asked and until phone_call_id is committed; and before creating
// a call the job asks whether the anfrage already has one (a run killed
// after the call was created but before the commit) and adopts it.
package followup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// Job is one configured follow-up job; Run performs a run.
type Job struct {
	Pool          *pgxpool.Pool
	Therapists    neighbours.Therapists
	Communication neighbours.Communication
	Log           *slog.Logger

	// ThresholdDays is FOLLOW_UP_THRESHOLD_DAYS: how many calendar days after
	// sending an unanswered anfrage is followed up.
	ThresholdDays int
	// DefaultTime is DEFAULT_PHONE_CALL_TIME (HH:MM), used when the therapist
	// lists no phone hours for the day of the call.
	DefaultTime string
	// Location is TIMEZONE: calendar days, "today" and the call's weekday are
	// those of this zone.
	Location *time.Location
	// Workers is how many anfragen are followed up at once (default 1). Each
	// holds a database connection while it talks to the neighbours, so the
	// pool needs Workers+1 connections (one for paging the selection).
	Workers int
	// PageSize is how many candidates one selection query reads (default 500).
	PageSize int
	// Outbox, if set, publishes the outbox once the run has written its
	// events (*outbox.Publisher's Relay: this run's events and any older
	// backlog). What it cannot deliver stays in the outbox for the
	// outbox-relay function; that does not fail the run.
	Outbox Relayer
	// AbortAfter stops the run after this many consecutive anfragen failed
	// for a reason other than their own data (a neighbour or the database
	// unavailable), so an outage does not hold the job for hours at a
	// timeout per anfrage; the rest wait for the next run (default 10).
	AbortAfter int
}

// Relayer publishes every unpublished outbox row; *outbox.Publisher is one.
type Relayer interface {
	Relay(ctx context.Context) (published int, err error)
}

// Options are the operator's choices for one run.
type Options struct {
	// Now is the moment the run acts as of; zero means time.Now(). An
	// anfrage is due when Now is at least ThresholdDays calendar days (in
	// Location, same clock time) after it was sent; the call is planned for
	// the working day after Now's date.
	Now time.Time
	// DryRun lists what the run would do and changes nothing: no claim, no
	// call created, no row or event written. It does read the therapist and
	// the anfrage's existing calls, to say which time it would choose and
	// whether it would adopt.
	DryRun bool
}

// Summary counts what a run did with each candidate anfrage.
type Summary struct {
	// Scheduled anfragen got a new phone call.
	Scheduled int
	// Adopted anfragen already had a call at the communication service (a
	// previous run stopped before storing it); that call was stored.
	Adopted int
	// Failed anfragen could not be followed up (therapist unknown, a
	// neighbour or the database failing); the next run tries again.
	Failed int
	// Skipped anfragen were selected but were not due any more when claimed
	// (answered, cancelled or called meanwhile) or were being followed up by
	// a concurrent run.
	Skipped int
	DryRun  bool
}

// String is the job's one summary line.
func (s Summary) String() string {
	line := fmt.Sprintf("scheduled=%d adopted=%d failed=%d skipped=%d", s.Scheduled, s.Adopted, s.Failed, s.Skipped)
	if s.DryRun {
		line += " dry_run=true"
	}
	return line
}

// OK reports whether the run succeeded for every anfrage (exit status 0).
func (s Summary) OK() bool { return s.Failed == 0 }

// ErrAborted is returned (wrapped) when the run stopped early because
// AbortAfter anfragen in a row failed.
var ErrAborted = errors.New("follow-up run aborted")

// plan is what a run computes once: the selection cutoff and the call's day.
type plan struct {
	cutoff time.Time // sent at or before this instant → due
	day    time.Time // the call's date (midnight in Location)
	dryRun bool
}

// DueCutoff returns the latest sending time (in loc) of an anfrage that is
// due for a follow-up at now: the same clock time thresholdDays calendar days
// before, so a week is seven days on the calendar of loc even when it has
// 167 or 169 hours across a daylight-saving change.
func DueCutoff(now time.Time, loc *time.Location, thresholdDays int) time.Time {
	return now.In(loc).AddDate(0, 0, -thresholdDays)
}

// ParseAsOf reads the operator's --as-of date (YYYY-MM-DD) and returns now
// moved to that date in loc, keeping its clock time: "run as if today were
// that date".
func ParseAsOf(date string, now time.Time, loc *time.Location) (time.Time, error) {
	d, err := time.ParseInLocation("2006-01-02", date, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("as-of date must be YYYY-MM-DD, got %q", date)
	}
	n := now.In(loc)
	return time.Date(d.Year(), d.Month(), d.Day(), n.Hour(), n.Minute(), n.Second(), n.Nanosecond(), loc), nil
}

// Run follows up every due anfrage once and returns what it did. The error
// is non-nil only when the run could not go through the whole selection (the
// database failed while paging, ctx was cancelled, or ErrAborted); the
// summary then counts what was done until then.
func (j *Job) Run(ctx context.Context, opt Options) (Summary, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	loc := j.Location
	if loc == nil {
		loc = time.UTC
	}
	now = now.In(loc)
	p := plan{
		cutoff: DueCutoff(now, loc, j.ThresholdDays),
		day:    matching.NextWorkingDay(now),
		dryRun: opt.DryRun,
	}
	workers := max(j.Workers, 1)
	pageSize := j.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	abortAfter := j.AbortAfter
	if abortAfter <= 0 {
		abortAfter = 10
	}
	j.Log.Info("follow-up run starting",
		"as_of", now.Format(time.RFC3339), "sent_before", p.cutoff.Format(time.RFC3339),
		"call_date", p.day.Format(time.DateOnly), "dry_run", opt.DryRun, "workers", workers)

	// One goroutine pages through the selection; the workers claim and
	// follow up one anfrage at a time. Only one page is in memory, however
	// many anfragen are due.
	feedCtx, stopFeed := context.WithCancel(ctx)
	defer stopFeed()
	candidates := make(chan store.FollowUpCandidate, pageSize)
	var selectErr error
	go func() {
		defer close(candidates)
		var after store.FollowUpCandidate
		for {
			page, err := store.DueFollowUps(feedCtx, j.Pool, p.cutoff, after, pageSize)
			if err != nil {
				if feedCtx.Err() == nil {
					selectErr = err
				}
				return
			}
			for _, c := range page {
				select {
				case candidates <- c:
				case <-feedCtx.Done():
					return
				}
			}
			if len(page) < pageSize {
				return
			}
			after = page[len(page)-1]
		}
	}()

	var (
		mu          sync.Mutex
		sum         = Summary{DryRun: opt.DryRun}
		inARow      int
		aborted     atomic.Bool
		wg          sync.WaitGroup
		abortReason error
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range candidates {
				if aborted.Load() || ctx.Err() != nil {
					continue // drain; these wait for the next run
				}
				out, err := j.followUp(ctx, c, p)
				mu.Lock()
				switch {
				case err != nil:
					sum.Failed++
					if fault.Permanent(err) {
						inARow = 0
					} else if inARow++; inARow >= abortAfter && !aborted.Load() {
						aborted.Store(true)
						abortReason = err
						stopFeed()
					}
				case out == skipped:
					sum.Skipped++
				case out == adopted:
					sum.Adopted++
					inARow = 0
				default:
					sum.Scheduled++
					inARow = 0
				}
				mu.Unlock()
				if err != nil {
					j.Log.Error("follow-up failed", "anfrage_id", c.ID, "therapist_id", c.TherapistID, "error", err.Error())
				}
			}
		}()
	}
	wg.Wait()
	j.publish(ctx, sum)

	switch {
	case aborted.Load():
		return sum, fmt.Errorf("%w after %d anfragen in a row failed, the last with: %v; the rest wait for the next run", ErrAborted, abortAfter, abortReason)
	case ctx.Err() != nil:
		return sum, fmt.Errorf("follow-up run interrupted: %w", ctx.Err())
	case selectErr != nil:
		return sum, selectErr
	}
	return sum, nil
}

// publish relays the outbox after a run that wrote events.
func (j *Job) publish(ctx context.Context, sum Summary) {
	if j.Outbox == nil || sum.DryRun || sum.Scheduled+sum.Adopted == 0 || ctx.Err() != nil {
		return
	}
	n, err := j.Outbox.Relay(ctx)
	if err != nil {
		j.Log.Warn("follow-up: not every event was published; the outbox relay will retry", "published", n, "error", err.Error())
		return
	}
	j.Log.Info("follow-up: events published", "published", n)
}

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
			j.Log.Info("dry run: would adopt the existing follow-up call", "anfrage_id", c.ID, "therapist_id", c.TherapistID,
				"phone_call_id", existing.ID, "scheduled_date", date, "scheduled_time", at)
			return adopted, nil
		}
		j.Log.Info("dry run: would schedule a follow-up call", "anfrage_id", c.ID, "therapist_id", c.TherapistID, "scheduled_date", date, "scheduled_time", at)
		return scheduled, nil
	}

	var (
		out     outcome
		ev      events.AnfrageFollowUpScheduledData
		eventID string
	)
	err := store.WithTx(ctx, j.Pool, func(tx pgx.Tx) error {
		// The row lock taken here is held until commit, across the calls
		// to the neighbours below: see the package comment.
		a, ok, err := store.ClaimFollowUp(ctx, tx, c.ID, p.cutoff)
		if err != nil || !ok {
			out = skipped
			return err
		}
		therapist, existing, err := j.prepare(ctx, a)
		if err != nil {
			return err
		}
		date, at := j.slot(therapist, existing, p)
		callID := existing.ID
		out = adopted
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
				return fmt.Errorf("create follow-up call for anfrage %d: %w", a.ID, err)
			}
		}
		if err := store.SetFollowUpCall(ctx, tx, a.ID, callID); err != nil {
			return err
		}
		ev = events.AnfrageFollowUpScheduledData{
			AnfrageID:     a.ID,
			TherapistID:   a.TherapistID,
			PhoneCallID:   callID,
			ScheduledDate: date,
			ScheduledTime: at,
		}
		ids, err := outbox.Add(ctx, tx, events.NewAnfrageFollowUpScheduled(ev))
		if err == nil {
			eventID = ids[0]
		}
		return err
	})
	switch {
	case err != nil:
		return 0, err
	case out == skipped:
		j.Log.Debug("follow-up skipped: no longer due or claimed by a concurrent run", "anfrage_id", c.ID)
	default:
		// The event's type, id and key, as on every line about an event, so
		// the line can be followed to the event's publication.
		j.Log.Info("follow-up call scheduled", "type", events.AnfrageFollowUpScheduled, "id", eventID,
			"key", strconv.FormatInt(ev.AnfrageID, 10), "anfrage_id", ev.AnfrageID, "therapist_id", ev.TherapistID,
			"phone_call_id", ev.PhoneCallID, "adopted", out == adopted,
			"scheduled_date", ev.ScheduledDate, "scheduled_time", ev.ScheduledTime)
	}
	return out, nil
}

// prepare reads what the follow-up of anfrage c needs from the neighbours:
// its therapist, and the call the communication service already has for the
// anfrage (ID 0 if none; the lowest id if several). The two requests go out
// together: the row lock and the connection are held for one round trip
// instead of two.
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
