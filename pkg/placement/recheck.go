package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
)

// This file is the reaction to changes (enhancements A3): when the copy of a
// patient or a therapist changes, every unsent anfrage that holds the
// patient or goes to the therapist is re-checked against the hard
// constraints with the new data. A patient who no longer passes, or whose
// search is no longer aktiv, leaves the anfrage (positions close up, the
// size follows, a note says why); the anfrage is refilled from the queue
// with the rules of its composition; an anfrage left empty is deleted; each
// changed anfrage emits therapeutenanfrage.composition_changed. Sent
// anfragen never change.
//
// A change of the copy writes a re-check request in its own transaction.
// Applying one reads what it needs into the copy first (patients,
// therapist, distances: the only service calls), then decides and changes
// the anfragen in one transaction that reads nothing but the database and
// deletes the request; when the copy lacked something after all (it changed
// in between), it fetches again and retries.

// recheckAttempts bounds how often one request is fetched for and tried
// before it is left for the sweep.
const recheckAttempts = 3

// RecheckSweepAge is how old a waiting request must be before the sweep
// takes it: younger ones are being applied by the process that wrote them.
const RecheckSweepAge = 30 * time.Second

// ApplyRechecks applies the re-check requests ids, which a transaction just
// committed, and publishes their events. A request that fails stays (its
// error recorded) for the sweep; the failure is logged, not returned: the
// change that asked for it is committed either way.
func (s *Service) ApplyRechecks(ctx context.Context, ids []int64) {
	if len(ids) == 0 || s.cfg.Directory == nil {
		return
	}
	reqs, err := store.Rechecks(ctx, s.cfg.Pool, ids)
	if err != nil {
		s.log.Warn("re-check not applied; the sweep will", slog.String("error", err.Error()))
		return
	}
	for _, r := range reqs {
		s.applyLogged(ctx, r)
	}
}

// SweepRechecks applies every request that has waited longer than
// olderThan (what a process that died after its commit left), oldest first,
// and returns how many it applied. Failed requests stay for the next sweep.
func (s *Service) SweepRechecks(ctx context.Context, olderThan time.Duration) (int, error) {
	if s.cfg.Directory == nil {
		return 0, nil
	}
	applied, lastID := 0, int64(0)
	for {
		reqs, err := store.PendingRechecks(ctx, s.cfg.Pool, olderThan, lastID, 100)
		if err != nil {
			return applied, err
		}
		if len(reqs) == 0 {
			return applied, nil
		}
		for _, r := range reqs {
			lastID = r.ID
			if s.applyLogged(ctx, r) {
				applied++
			}
		}
	}
}

// applyLogged applies r, logs and records a failure, and reports success.
func (s *Service) applyLogged(ctx context.Context, r store.Recheck) bool {
	err := s.Recheck(ctx, r)
	if err == nil {
		return true
	}
	s.log.Warn("re-check not applied; it stays for the sweep", slog.Int64("recheck_id", r.ID),
		slog.Int64("patient_id", r.PatientID), slog.Int64("therapist_id", r.TherapistID), slog.String("error", err.Error()))
	if ferr := store.FailRecheck(context.WithoutCancel(ctx), s.cfg.Pool, r.ID, err.Error()); ferr != nil {
		s.log.Warn("re-check failure not recorded", slog.String("error", ferr.Error()))
	}
	return false
}

// Recheck applies one re-check request: it re-checks the unsent anfragen of
// its patient or therapist, changes those whose patients no longer all
// pass, deletes the request and publishes the events, all or nothing. A
// request another process applied already is done.
func (s *Service) Recheck(ctx context.Context, r store.Recheck) error {
	d := s.cfg.Directory
	if d == nil {
		return errors.New("re-check without a directory")
	}
	for attempt := 1; ; attempt++ {
		// Before the transaction: read everything the re-check needs into
		// the copy (the decision is thrown away; the one in the
		// transaction counts).
		now := s.now()
		if _, _, err := s.planRechecks(ctx, recheckRun{view: d.Fetching(), db: s.cfg.Pool, now: now}, r); err != nil {
			return err
		}
		var changed []anfrageChange
		ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
			taken, err := store.TakeRecheck(ctx, tx, r.ID)
			if err != nil || !taken {
				return nil, err
			}
			run := recheckRun{view: d.Local(tx), db: tx, tx: tx, now: now, apply: func(c *anfrageChange) (events.Outgoing, error) {
				return s.applyChange(ctx, tx, c, now)
			}}
			var out []events.Outgoing
			changed, out, err = s.planRechecks(ctx, run, r)
			return out, err
		})
		if errors.Is(err, directory.ErrMissing) && attempt < recheckAttempts {
			continue
		}
		if err != nil {
			return fmt.Errorf("re-check %d: %w", r.ID, err)
		}
		for i, c := range changed {
			s.log.Info("anfrage composition changed", slog.String("type", events.AnfrageCompositionChanged),
				slog.String("id", ids[i]), slog.String("key", fmt.Sprint(c.anfrage.ID)),
				slog.Int64("anfrage_id", c.anfrage.ID), slog.Int64("therapist_id", c.anfrage.TherapistID),
				slog.Any("removed", patientsOf(c.removed)), slog.Any("added", c.added), slog.Int("anfrage_size", c.size),
				slog.String("cause", r.Cause))
		}
		s.publish(ctx, ids)
		return nil
	}
}

// recheckRun is where a re-check reads: the pool with a fetching view
// before the transaction, the transaction (tx set, anfragen locked) with a
// local view in it, where apply makes each change before the next anfrage
// is planned (a refill must see who the previous one took).
type recheckRun struct {
	view  directory.View
	db    store.DB
	tx    pgx.Tx
	now   time.Time
	apply func(*anfrageChange) (events.Outgoing, error)
}

// removal is a patient leaving an anfrage, and why.
type removal struct {
	entry  store.AnfrageEntry
	reason string
}

// anfrageChange is what a re-check does to one anfrage.
type anfrageChange struct {
	anfrage store.Anfrage
	removed []removal
	// refill are the searches to add, in order; added the patients that
	// were added (only searches still aktiv at the commit are).
	refill []store.Candidate
	added  []int64
	// kept is how many patients stay.
	kept int
	// size is the anfrage's size after the change, 0 when it was deleted.
	size int
}

func patientsOf(rs []removal) []int64 {
	out := make([]int64, len(rs))
	for i, r := range rs {
		out[i] = r.entry.PatientID
	}
	return out
}

// planRechecks decides the changes of the unsent anfragen of r's patient
// or therapist, in anfrage id order, and applies each with run.apply when
// that is set, returning its events.
func (s *Service) planRechecks(ctx context.Context, run recheckRun, r store.Recheck) ([]anfrageChange, []events.Outgoing, error) {
	ids, err := store.UnsentAnfragenOf(ctx, run.db, r.PatientID, r.TherapistID)
	if err != nil {
		return nil, nil, err
	}
	var changed []anfrageChange
	var out []events.Outgoing
	for _, id := range ids {
		var a store.Anfrage
		if run.tx != nil {
			var ok bool
			if a, ok, err = store.LockUnsentAnfrage(ctx, run.tx, id); err != nil {
				return nil, nil, err
			} else if !ok {
				continue
			}
		} else if a, err = store.GetAnfrage(ctx, run.db, id); fault.KindOf(err) == fault.NotFound {
			continue
		} else if err != nil {
			return nil, nil, err
		}
		c, err := s.planAnfrage(ctx, run, a)
		if err != nil {
			return nil, nil, err
		}
		if len(c.removed) == 0 {
			continue
		}
		if run.apply != nil {
			ev, err := run.apply(&c)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, ev)
		}
		changed = append(changed, c)
	}
	return changed, out, nil
}

// planAnfrage re-checks every patient of anfrage a against the hard
// constraints and, when one has to go, picks who fills the places.
func (s *Service) planAnfrage(ctx context.Context, run recheckRun, a store.Anfrage) (anfrageChange, error) {
	c := anfrageChange{anfrage: a}
	t, err := run.view.Therapist(ctx, a.TherapistID)
	if fault.KindOf(err) == fault.NotFound {
		// Nothing to check against; sending it will say the therapist is
		// gone, and staff decide.
		return c, nil
	}
	if err != nil {
		return c, err
	}
	entries, err := store.AnfrageEntries(ctx, run.db, a.ID)
	if err != nil {
		return c, err
	}
	patientIDs, searchIDs := make([]int64, len(entries)), make([]int64, len(entries))
	for i, e := range entries {
		patientIDs[i], searchIDs[i] = e.PatientID, e.SearchID
	}
	patients, err := run.view.Patients(ctx, patientIDs)
	if err != nil {
		return c, err
	}
	exclusions, err := store.SearchExclusions(ctx, run.db, searchIDs)
	if err != nil {
		return c, err
	}
	today := s.today(run.now)
	q := queue{view: run.view, db: run.db, t: t.Matching(), today: today, defaultMaxKM: s.cfg.Matching.DefaultMaxDistanceKM}
	var members []pair
	var memberEntries []store.AnfrageEntry
	for _, e := range entries {
		p, ok := patients[e.PatientID]
		switch {
		case e.SearchStatus != matching.StatusAktiv:
			c.removed = append(c.removed, removal{e, "search is no longer aktiv (status " + e.SearchStatus + ")"})
		case !ok:
			c.removed = append(c.removed, removal{e, "patient no longer exists"})
		default:
			members = append(members, pair{cand: store.Candidate{SearchID: e.SearchID, PatientID: e.PatientID,
				CreatedAt: e.SearchCreatedAt, Exclusions: exclusions[e.SearchID]}, patient: p.Matching()})
			memberEntries = append(memberEntries, e)
		}
	}
	reasons, err := q.check(ctx, members)
	if err != nil {
		return c, err
	}
	for i, reason := range reasons {
		if reason != "" {
			c.removed = append(c.removed, removal{memberEntries[i], reason})
		}
	}
	if len(c.removed) == 0 {
		return c, nil
	}
	c.kept = len(entries) - len(c.removed)
	need := s.cfg.Matching.MaxAnfrageSize - c.kept
	if need <= 0 {
		return c, nil
	}
	if q.prefix, err = s.anfragePrefix(ctx, run.db, a.ID, t.PLZ); err != nil {
		return c, err
	}
	c.refill, err = q.first(ctx, need)
	return c, err
}

// anfragePrefix is the PLZ prefix anfrage id was composed for; an anfrage
// composed before the prefix was stored takes the first PLZ_MATCH_DIGITS
// digits of its therapist's PLZ.
func (s *Service) anfragePrefix(ctx context.Context, db store.DB, id int64, therapistPLZ *string) (string, error) {
	p, err := store.AnfragePrefix(ctx, db, id)
	if err != nil || p != "" {
		return p, err
	}
	plz := strings.TrimSpace(deref(therapistPLZ))
	return plz[:min(len(plz), s.cfg.Matching.PLZMatchDigits)], nil
}

// applyChange removes the patients of c from its anfrage with a note each,
// adds the refill, closes the positions up (deleting an anfrage left empty)
// and returns the composition_changed event.
func (s *Service) applyChange(ctx context.Context, tx pgx.Tx, c *anfrageChange, now time.Time) (events.Outgoing, error) {
	id := c.anfrage.ID
	entryIDs := make([]int64, len(c.removed))
	removed := make([]events.RemovedPatient, len(c.removed))
	for i, r := range c.removed {
		entryIDs[i] = r.entry.ID
		removed[i] = events.RemovedPatient{PatientID: r.entry.PatientID, Reason: r.reason}
		note := matching.Note(now, matching.AuthorSystem, fmt.Sprintf("Removed patient %d: %s", r.entry.PatientID, r.reason))
		if err := store.NoteAnfrage(ctx, tx, id, note); err != nil {
			return events.Outgoing{}, err
		}
	}
	if err := store.RemoveAnfrageEntries(ctx, tx, id, entryIDs); err != nil {
		return events.Outgoing{}, err
	}
	searchIDs := make([]int64, len(c.refill))
	for i, r := range c.refill {
		searchIDs[i] = r.SearchID
	}
	var err error
	if c.added, err = store.AddAnfrageEntries(ctx, tx, id, searchIDs, now); err != nil {
		return events.Outgoing{}, err
	}
	if _, err := store.CompactAnfragen(ctx, tx, []int64{id}); err != nil {
		return events.Outgoing{}, err
	}
	c.size = c.kept + len(c.added)
	return events.NewAnfrageCompositionChanged(events.AnfrageCompositionChangedData{
		AnfrageID: id, TherapistID: c.anfrage.TherapistID, Removed: removed, Added: c.added, AnfrageSize: c.size,
	}), nil
}
