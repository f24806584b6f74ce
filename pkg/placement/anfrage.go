package placement

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// ErrNoEligible is CreateAnfrage's answer when fewer than MIN_ANFRAGE_SIZE
// patients qualify: nothing was created. The reference answers it with 200.
var ErrNoEligible = errors.New("no eligible patients found for this therapist")

// NewAnfrage asks for an anfrage to one therapist.
type NewAnfrage struct {
	TherapistID int64
	// PLZPrefix selects the patients: exactly PLZ_MATCH_DIGITS digits.
	PLZPrefix string
	// SendNow sends the anfrage right after creating it.
	SendNow bool
}

// AnfrageCreated is a created anfrage with its patients in position order.
type AnfrageCreated struct {
	Anfrage    store.Anfrage
	PatientIDs []int64
	// Sent reports whether SendNow's send succeeded. A failed immediate send
	// leaves the anfrage created and unsent, as in the reference; it is
	// logged and can be sent later.
	Sent bool
}

// CreateAnfrage composes an anfrage for cmd.TherapistID from the aktiv
// searches of the PLZ prefix (matching's hard constraints, oldest search
// first, at most MAX_ANFRAGE_SIZE) and emits therapeutenanfrage.created.
//
// Errors: 400 for a prefix that is not PLZ_MATCH_DIGITS digits; 404 for an
// unknown therapist; 409 when the therapist is not aktiv, in a cooling
// period or has an open anfrage; 503 when a neighbour is down;
// ErrNoEligible when too few patients qualify; any other failure is the
// reference's 500 "Anfrage creation failed" with the error text.
func (s *Service) CreateAnfrage(ctx context.Context, cmd NewAnfrage) (AnfrageCreated, error) {
	if err := s.checkPrefix(cmd.PLZPrefix); err != nil {
		return AnfrageCreated{}, err
	}
	a, entries, err := s.create(ctx, cmd.TherapistID, cmd.PLZPrefix)
	if errors.Is(err, ErrNoEligible) {
		return AnfrageCreated{}, err
	}
	if err != nil {
		return AnfrageCreated{}, creationFailed(ctx, err)
	}
	res := AnfrageCreated{Anfrage: a, PatientIDs: patientIDs(entries)}
	if cmd.SendNow {
		if _, err := s.Send(ctx, a.ID); err != nil {
			s.log.Warn("immediate send failed", "anfrage_id", a.ID, "error", err.Error())
		} else {
			res.Sent = true
		}
	}
	return res, nil
}

func patientIDs(entries []store.AnfrageEntry) []int64 {
	ids := make([]int64, len(entries))
	for i, e := range entries {
		ids[i] = e.PatientID
	}
	return ids
}

// create builds an anfrage for therapist tid from the searches of the PLZ
// prefix and emits therapeutenanfrage.created; ErrNoEligible when fewer
// than MIN_ANFRAGE_SIZE patients qualify.
//
// Composition runs without holding a transaction (it calls the patient and
// geocoding services); the insert then takes the therapist's advisory lock
// and checks again, so of two concurrent creations for one therapist
// exactly one succeeds and the other gets the 409 — also when the first
// took every candidate.
func (s *Service) create(ctx context.Context, tid int64, prefix string) (store.Anfrage, []store.AnfrageEntry, error) {
	now := s.now()
	today := s.today(now)
	t, err := s.composingTherapist(ctx, tid)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	if err := s.checkContactable(ctx, s.cfg.Pool, t, today); err != nil {
		return store.Anfrage{}, nil, err
	}
	searchIDs, err := s.compose(ctx, t.Matching(), prefix, today)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	var (
		a       store.Anfrage
		entries []store.AnfrageEntry
	)
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		if err := store.LockTherapist(ctx, tx, tid); err != nil {
			return nil, err
		}
		if err := s.checkContactable(ctx, tx, t, today); err != nil {
			return nil, err
		}
		if len(searchIDs) < s.cfg.Matching.MinAnfrageSize {
			return nil, ErrNoEligible
		}
		var ok bool
		var err error
		// Searches that left aktiv since composition are left out.
		a, entries, ok, err = store.InsertAnfrage(ctx, tx, tid, searchIDs, now)
		if err != nil {
			return nil, err
		}
		if !ok || len(entries) < s.cfg.Matching.MinAnfrageSize {
			return nil, ErrNoEligible
		}
		// A refill after a re-check takes patients of the same area.
		if err := store.SetAnfragePrefix(ctx, tx, a.ID, prefix); err != nil {
			return nil, err
		}
		return []events.Outgoing{events.NewAnfrageCreated(events.AnfrageCreatedData{
			AnfrageID: a.ID, TherapistID: tid, PatientIDs: patientIDs(entries), AnfrageSize: len(entries),
		})}, nil
	})
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	s.logLifecycle(ctx, "anfrage created", events.AnfrageCreated, a.ID, ids,
		slog.Int64("therapist_id", tid), slog.Int("patients", len(entries)))
	s.publish(ctx, ids)
	return a, entries, nil
}

// compose returns the searches of the anfrage for therapist t, in order:
// from matching's copy when the service has one (enhancements A2), else
// asking the patient and geocoding services per candidate, as the
// reference did.
func (s *Service) compose(ctx context.Context, t matching.Therapist, prefix string, today time.Time) ([]int64, error) {
	var picked []store.Candidate
	if d := s.cfg.Directory; d != nil {
		q := queue{view: d.Fetching(), db: s.cfg.Pool, t: t, prefix: prefix, today: today, defaultMaxKM: s.cfg.Matching.DefaultMaxDistanceKM}
		var err error
		if picked, err = q.first(ctx, s.cfg.Matching.MaxAnfrageSize); err != nil {
			return nil, err
		}
	} else {
		cands, err := store.CandidateSearches(ctx, s.cfg.Pool, t.ID)
		if err != nil {
			return nil, err
		}
		c := composer{
			patients:     s.cfg.Patients,
			distances:    s.cfg.Distances,
			concurrency:  s.cfg.Concurrency,
			defaultMaxKM: s.cfg.Matching.DefaultMaxDistanceKM,
			max:          s.cfg.Matching.MaxAnfrageSize,
		}
		chosen, err := c.compose(ctx, t, prefix, cands, today)
		if err != nil {
			return nil, err
		}
		for _, ch := range chosen {
			picked = append(picked, ch.Candidate)
		}
	}
	ids := make([]int64, len(picked))
	for i, p := range picked {
		ids[i] = p.SearchID
	}
	return ids, nil
}

// creationFailed is the reference's 500 of a failed creation,
// {"message": "Anfrage creation failed", "error": "…"}; classified errors
// (404, 409, 503) keep their own answer. The reference put the exception's
// text into "error"; that text can be a database message, so the body says
// only where to look and the cause goes to the log.
func creationFailed(ctx context.Context, err error) error {
	// A plain read of the database before the transaction (the
	// therapist's open anfragen, the queue) fails as the database does:
	// unavailable while it is down, a 503 to try again.
	if err = store.Classify(ctx, err); fault.As(err) != nil {
		return err
	}
	return internalError("Anfrage creation failed", err).With("error", "internal error; the service log has the details")
}

// internalError is a 500 whose message the caller sees (the reference's
// "Failed to send anfrage: …" family).
func internalError(msg string, cause error) *fault.Error {
	return &fault.Error{Kind: fault.Transient, Message: msg, Err: cause}
}

// checkContactable returns a 409 when therapist t may not get a new anfrage:
// not aktiv, in a cooling period, or with an open anfrage.
func (s *Service) checkContactable(ctx context.Context, db store.DB, t neighbours.Therapist, today time.Time) error {
	if st := deref(t.Status); st != "aktiv" {
		return fault.Conflictf("Therapist %d is not active (status: %s)", t.ID, st)
	}
	row, err := store.GetCooling(ctx, db, t.ID)
	if err != nil {
		return err
	}
	if d := coolingDate(t, row); matching.InCooling(d, today) {
		return fault.Conflictf("Therapist %d is in a cooling period until %s", t.ID, d).With("naechster_kontakt_moeglich", d)
	}
	open, err := store.OpenAnfrage(ctx, db, t.ID)
	if err != nil {
		return err
	}
	if open != 0 {
		return fault.Conflictf("Therapist %d already has an open anfrage (%d)", t.ID, open).With("anfrage_id", open)
	}
	return nil
}

// DeleteAnfrage deletes anfrage id in any state (404 if there is none);
// emails and phone calls in the communication service stay.
func (s *Service) DeleteAnfrage(ctx context.Context, id int64) error {
	if _, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		return nil, store.DeleteAnfrage(ctx, tx, id)
	}); err != nil {
		return err
	}
	s.log.Info("anfrage deleted", slog.Int64("anfrage_id", id))
	return nil
}
