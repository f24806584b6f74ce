package placement

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// CheckConstraints asks the geocoding service for the distance of the
// pair's trip (matching.TripBetween; no call without one) and evaluates
// matching.CheckConstraints with its answer. err is set only when the
// geocoding service is unavailable, which a command answers with 503:
// passing every pair would ignore max_km for the whole anfrage.
func CheckConstraints(ctx context.Context, p matching.Patient, t matching.Therapist, searchExclusions json.RawMessage, d neighbours.Distances, defaultMaxKM float64, today time.Time) (ok bool, reason string, err error) {
	var dist matching.Distance
	if trip, found := matching.TripBetween(p, t); found {
		km, known, err := d.DistanceKM(ctx, neighbours.DistanceQuery{Origin: trip.From, Destination: trip.To, TravelMode: trip.Mode})
		if err != nil {
			return false, "", fmt.Errorf("distance between patient %d and therapist %d: %w", p.ID, t.ID, err)
		}
		dist = matching.Distance{KM: km, Known: known}
	}
	ok, reason = matching.CheckConstraints(p, t, searchExclusions, dist, defaultMaxKM, today)
	return ok, reason, nil
}

// chosen is a candidate that qualified, with the patient record read for it.
type chosen struct {
	store.Candidate
	Patient neighbours.Patient
}

// composer picks the patients of an anfrage for one therapist.
type composer struct {
	patients  neighbours.Patients
	distances neighbours.Distances
	// concurrency bounds the candidates evaluated at the same time (a
	// patient fetch, then at most one distance call each); 0 means 8. It is
	// also how far evaluation may run ahead of the oldest undecided
	// candidate, so it bounds the calls spent beyond the last chosen one.
	concurrency int
	// defaultMaxKM applies when a patient sets no usable max_km.
	defaultMaxKM float64
	// max is the anfrage size limit (MAX_ANFRAGE_SIZE); 0 or less chooses
	// nobody.
	max int
}

// verdict is the evaluation of one candidate.
type verdict struct {
	i       int
	ok      bool
	patient neighbours.Patient
	err     error
}

// compose returns the first c.max candidates, in the given order (oldest
// search first, ties by id, as store.CandidateSearches lists them), whose
// patient's PLZ starts with plzPrefix and who pass CheckConstraints against
// t. The result is the one a sequential scan would give, but candidates are
// evaluated concurrently, at most c.concurrency at a time, and in a sliding
// window: candidate i+concurrency is not started before candidate i is
// decided, and nothing new starts once c.max candidates have qualified in
// order (work still running then is cancelled and its results dropped).
//
// A patient that no longer exists (fault.NotFound) is skipped. Any other
// failure of a candidate the result depends on — a neighbour outage, the
// context ending — is returned as the error; a failure of a candidate after
// the c.max-th qualifying one does not matter.
func (c *composer) compose(ctx context.Context, t matching.Therapist, plzPrefix string, cands []store.Candidate, today time.Time) ([]chosen, error) {
	if c.max <= 0 || len(cands) == 0 {
		return nil, nil
	}
	window := c.concurrency
	if window <= 0 {
		window = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Buffered for every evaluation that can be running, so a worker never
	// blocks on sending, even after compose stopped listening.
	results := make(chan verdict, window)
	decided := make([]*verdict, len(cands))
	next, running := 0, 0 // next candidate to start; evaluations running
	var picked []chosen

	finish := func(out []chosen, err error) ([]chosen, error) {
		cancel()
		for ; running > 0; running-- {
			<-results
		}
		return out, err
	}

	for head := 0; head < len(cands); {
		// Start work within the window [head, head+window).
		for next < len(cands) && next < head+window {
			go func(i int) { results <- c.evaluate(ctx, i, cands[i], t, plzPrefix, today) }(next)
			next++
			running++
		}
		v := <-results
		running--
		decided[v.i] = &v
		// Decide the candidates in order as far as their results are in.
		for head < len(cands) && decided[head] != nil {
			d := decided[head]
			decided[head] = nil
			head++
			if d.err != nil {
				return finish(nil, d.err)
			}
			if d.ok {
				picked = append(picked, chosen{Candidate: cands[d.i], Patient: d.patient})
				if len(picked) == c.max {
					return finish(picked, nil)
				}
			}
		}
	}
	return finish(picked, nil)
}

// evaluate reads candidate i's patient and checks the PLZ prefix and the
// hard constraints.
func (c *composer) evaluate(ctx context.Context, i int, cand store.Candidate, t matching.Therapist, plzPrefix string, today time.Time) verdict {
	p, err := c.patients.Patient(ctx, cand.PatientID)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return verdict{i: i}
	case err != nil:
		return verdict{i: i, err: fmt.Errorf("patient %d of search %d: %w", cand.PatientID, cand.SearchID, err)}
	}
	facts := p.Matching()
	if !matching.HasPLZPrefix(facts, plzPrefix) {
		return verdict{i: i}
	}
	ok, _, err := CheckConstraints(ctx, facts, t, cand.Exclusions, c.distances, c.defaultMaxKM, today)
	return verdict{i: i, ok: ok, patient: p, err: err}
}
