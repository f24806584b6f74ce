package matching

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/neighbours"
)

// Candidate is an active search that may join an anfrage, as read from the
// database: oldest first, ties by id, without patients already in an open
// anfrage to the therapist.
type Candidate struct {
	SearchID   int64
	PatientID  int64
	CreatedAt  time.Time
	Exclusions json.RawMessage // the search's ausgeschlossene_therapeuten
}

// Chosen is a candidate that qualified, with the patient record read for it.
type Chosen struct {
	Candidate
	Patient neighbours.Patient
}

// Composer picks the patients of an anfrage for one therapist.
type Composer struct {
	Patients  neighbours.Patients
	Distances neighbours.Distances
	// Concurrency bounds the candidates evaluated at the same time (a patient
	// fetch, then at most one distance call each); 0 means 8. It is also how
	// far evaluation may run ahead of the oldest undecided candidate, so it
	// bounds the calls spent beyond the last chosen candidate.
	Concurrency int
	// DefaultMaxKM applies when a patient sets no usable max_km.
	DefaultMaxKM float64
	// Max is the anfrage size limit (MAX_ANFRAGE_SIZE); 0 or less chooses
	// nobody.
	Max int
}

// verdict is the evaluation of one candidate.
type verdict struct {
	i       int
	ok      bool
	patient neighbours.Patient
	err     error
}

// Compose returns the first c.Max candidates, in the given order, whose
// patient's PLZ starts with plzPrefix and who pass CheckConstraints against
// t. The result is the one a sequential scan would give, but candidates are
// evaluated concurrently, at most c.Concurrency at a time, and in a sliding
// window: candidate i+Concurrency is not started before candidate i is
// decided, and nothing new starts once c.Max candidates have qualified in
// order (work still running then is cancelled and its results dropped).
//
// A patient that no longer exists (fault.NotFound) is skipped. Any other
// failure of a candidate the result depends on — a neighbour outage, the
// context ending — is returned as the error; a failure of a candidate after
// the c.Max-th qualifying one does not matter.
func (c *Composer) Compose(ctx context.Context, t neighbours.Therapist, plzPrefix string, cands []Candidate, today time.Time) ([]Chosen, error) {
	if c.Max <= 0 || len(cands) == 0 {
		return nil, nil
	}
	window := c.Concurrency
	if window <= 0 {
		window = 8
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// Buffered for every evaluation that can be running, so a worker never
	// blocks on sending, even after Compose stopped listening.
	results := make(chan verdict, window)
	decided := make([]*verdict, len(cands))
	next, running := 0, 0 // next candidate to start; evaluations running
	var chosen []Chosen

	finish := func(out []Chosen, err error) ([]Chosen, error) {
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
				chosen = append(chosen, Chosen{Candidate: cands[d.i], Patient: d.patient})
				if len(chosen) == c.Max {
					return finish(chosen, nil)
				}
			}
		}
	}
	return finish(chosen, nil)
}

// evaluate reads candidate i's patient and checks the PLZ prefix and the
// hard constraints.
func (c *Composer) evaluate(ctx context.Context, i int, cand Candidate, t neighbours.Therapist, plzPrefix string, today time.Time) verdict {
	p, err := c.Patients.Patient(ctx, cand.PatientID)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return verdict{i: i}
	case err != nil:
		return verdict{i: i, err: fmt.Errorf("patient %d of search %d: %w", cand.PatientID, cand.SearchID, err)}
	}
	if !strings.HasPrefix(strings.TrimSpace(str(p.PLZ)), plzPrefix) {
		return verdict{i: i}
	}
	ok, _, err := CheckConstraints(ctx, p, t, cand.Exclusions, c.Distances, c.DefaultMaxKM, today)
	return verdict{i: i, ok: ok, patient: p, err: err}
}
