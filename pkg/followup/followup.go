// Package followup is the daily follow-up job (product spec §7): every
// anfrage sent at least FOLLOW_UP_THRESHOLD_DAYS calendar days ago that has no
// answer, is not cancelled and has no phone call gets one follow-up call to
// its therapist through the communication service, and the event
// therapeutenanfrage.follow_up_scheduled through the outbox.
//
// No transaction spans a call to a neighbour: each anfrage is claimed in a
// short transaction (FOR UPDATE SKIP LOCKED and a claim on the row,
// store.ClaimAnfrage), the therapist service and the communication service
// are asked with no connection or lock held, and the call is recorded with
// its event in a second short transaction that ends the claim. Overlapping
// runs skip an anfrage another run holds a claim on; before creating a call
// the job asks whether the anfrage already has one (a run killed after the
// call was created but before it was recorded, whose claim then expired)
// and adopts it. A second call remains possible only when the service
// created one without answering and does not list it yet when the next run
// looks, or when a claim expired (store.ClaimTTL) while its run still
// waited.
package followup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
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
	// Workers is how many anfragen are followed up at once (default 1). A
	// worker uses a database connection only to claim an anfrage and to
	// record its call, not while it talks to the neighbours.
	Workers int
	// NeighbourTimeout is NEIGHBOUR_TIMEOUT (default 5 s); a worker's claim
	// on an anfrage holds store.ClaimTTL of it before another run may take
	// it over.
	NeighbourTimeout time.Duration
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
	// RunID names the run in the history (the cause of its changes) and on
	// its log lines; empty means a new random id.
	RunID string
}

// JobName is the follow-up job's name in the history's causes.
const JobName = "follow-up"

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
	// Every transaction of the run records it as the cause of its changes,
	// and every log line with ctx carries its id.
	if opt.RunID == "" {
		opt.RunID = store.NewRunID()
	}
	ctx = store.WithCause(ctx, store.Cause{Kind: store.CauseJob, Job: JobName, RunID: opt.RunID})
	workers := max(j.Workers, 1)
	pageSize := j.PageSize
	if pageSize <= 0 {
		pageSize = 500
	}
	abortAfter := j.AbortAfter
	if abortAfter <= 0 {
		abortAfter = 10
	}
	j.Log.InfoContext(ctx, "follow-up run starting",
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
					j.Log.ErrorContext(ctx, "follow-up failed", "anfrage_id", c.ID, "therapist_id", c.TherapistID, "error", err.Error())
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
		j.Log.WarnContext(ctx, "follow-up: not every event was published; the outbox relay will retry", "published", n, "error", err.Error())
		return
	}
	j.Log.InfoContext(ctx, "follow-up: events published", "published", n)
}
