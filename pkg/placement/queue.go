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
// order (prioritaet, then the longest waiting, then the search id), but the
// searches are read together with their patients' copies, a page at a
// time, and the distances come from the distance table. Through a
// directory.View of the pool it fetches what the copy lacks; through a
// View of a transaction (db the same transaction) it calls no service and
// returns directory.ErrMissing instead.
type queue struct {
	view         directory.View
	db           store.DB
	t            matching.Therapist
	prefix       string
	today        time.Time
	defaultMaxKM float64
}

// firstPage is how many searches the first read of the queue takes; every
// further read takes twice as many, up to maxPage, so a composition whose
// first candidates qualify reads a few rows and one that qualifies nobody
// reads the whole queue in a few statements.
const (
	firstPage = 64
	maxPage   = 4096
)

// first returns the first n searches of the queue (those of patients in an
// open anfrage to q.t left out) whose patient the copy has, whose PLZ starts
// with q.prefix and who pass the hard constraints against q.t. The local
// constraints are checked before the distance is looked up, so a candidate
// they reject costs no distance (the verdict is the same: CheckConstraints
// is a conjunction).
func (q queue) first(ctx context.Context, n int) ([]store.Candidate, error) {
	var picked []store.Candidate
	var after *store.QueueCursor
	for size := firstPage; len(picked) < n; size = min(size*2, maxPage) {
		page, err := store.CandidateQueue(ctx, q.db, q.t.ID, q.prefix, after, size)
		if err != nil {
			return nil, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].Cursor()
		// Patients the copy has no row for yet are fetched (or missed).
		var missing []int64
		for _, s := range page {
			if s.Copy.ID == 0 {
				missing = append(missing, s.PatientID)
			}
		}
		fetched, err := q.view.Patients(ctx, missing)
		if err != nil {
			return nil, err
		}
		var local []pair
		for _, s := range page {
			rec, ok := fetched[s.PatientID]
			if s.Copy.ID != 0 {
				rec, ok = directory.PatientOf(s.Copy), true
			}
			if !ok {
				continue
			}
			p := rec.Matching()
			if !matching.HasPLZPrefix(p, q.prefix) || matching.CheckLocal(p, q.t, s.Exclusions, q.today) != "" {
				continue
			}
			local = append(local, pair{cand: s.Candidate, patient: p})
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
		if len(page) < size {
			break
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
