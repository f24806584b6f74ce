package placement

import (
	"context"
	"time"

	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
)

// queue picks patients for one therapist from matching's copy
// (enhancements A2): the same choice as composer.compose, in the same
// order (store.CandidateSearches), but the patients come from the copy and
// the distances from the distance table. Through a directory.View of the
// pool it fetches what the copy lacks; through a View of a transaction it
// calls no service and returns directory.ErrMissing instead.
type queue struct {
	view         directory.View
	t            matching.Therapist
	prefix       string
	today        time.Time
	defaultMaxKM float64
}

// firstBatch is how many candidates the first read of the copy takes;
// every further read takes twice as many, up to maxBatch, so a composition
// whose first candidates qualify reads a few rows and one that qualifies
// nobody reads all of them in a few statements.
const (
	firstBatch = 64
	maxBatch   = 4096
)

// first returns the first n candidates, in the given order, whose patient
// the copy has, whose PLZ starts with q.prefix and who pass the hard
// constraints against q.t. The local constraints are checked before the
// distance is looked up, so a candidate they reject costs no distance (the
// verdict is the same: CheckConstraints is a conjunction).
func (q queue) first(ctx context.Context, cands []store.Candidate, n int) ([]store.Candidate, error) {
	var picked []store.Candidate
	size := firstBatch
	for start := 0; start < len(cands) && len(picked) < n; start += size {
		if start > 0 {
			size = min(size*2, maxBatch)
		}
		batch := cands[start:min(start+size, len(cands))]
		ids := make([]int64, len(batch))
		for i, c := range batch {
			ids[i] = c.PatientID
		}
		patients, err := q.view.Patients(ctx, ids)
		if err != nil {
			return nil, err
		}
		var local []pair
		for _, c := range batch {
			rec, ok := patients[c.PatientID]
			if !ok {
				continue
			}
			p := rec.Matching()
			if !matching.HasPLZPrefix(p, q.prefix) || matching.CheckLocal(p, q.t, c.Exclusions, q.today) != "" {
				continue
			}
			local = append(local, pair{cand: c, patient: p})
		}
		// The distances of the survivors, a few more than still needed at
		// a time: with a warm table that is one statement each, and on
		// misses it bounds the geocoding calls spent beyond the last one
		// chosen.
		for len(local) > 0 && len(picked) < n {
			chunk := local[:min(len(local), max(2*(n-len(picked)), 8))]
			local = local[len(chunk):]
			verdicts, err := q.check(ctx, chunk)
			if err != nil {
				return nil, err
			}
			for i, v := range verdicts {
				if v == "" {
					picked = append(picked, chunk[i].cand)
					if len(picked) == n {
						break
					}
				}
			}
		}
	}
	return picked, nil
}

// pair is a candidate with her patient as the rules read her.
type pair struct {
	cand    store.Candidate
	patient matching.Patient
}

// check evaluates the hard constraints of each pair against q.t, with the
// distances of their trips, and returns for each the reason it fails ("" if
// it passes), in the reference's order.
func (q queue) check(ctx context.Context, pairs []pair) ([]string, error) {
	var trips []matching.Trip
	for _, p := range pairs {
		if trip, ok := matching.TripBetween(p.patient, q.t); ok {
			trips = append(trips, trip)
		}
	}
	dist, err := q.view.Distances(ctx, trips)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		var d matching.Distance
		if trip, ok := matching.TripBetween(p.patient, q.t); ok {
			d = dist[trip]
		}
		_, out[i] = matching.CheckConstraints(p.patient, q.t, p.cand.Exclusions, d, q.defaultMaxKM, q.today)
	}
	return out, nil
}
