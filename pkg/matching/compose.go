package matching

import (
	"context"
	"encoding/json"
	"time"

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
	// Concurrency bounds the candidates evaluated at the same time
	// (patient fetch plus distance); 0 means 8.
	Concurrency int
	// DefaultMaxKM applies when a patient sets no numeric max_km.
	DefaultMaxKM float64
	// Max is the anfrage size limit (MAX_ANFRAGE_SIZE).
	Max int
}

// Compose returns the first c.Max candidates, in the given order, whose
// patient lives in the PLZ prefix and passes CheckConstraints against t.
// Patients are fetched concurrently, at most c.Concurrency at a time, and no
// new work starts once c.Max candidates have qualified in order. A patient
// that no longer exists is skipped; an unavailable neighbour is an error.
func (c *Composer) Compose(ctx context.Context, t neighbours.Therapist, plzPrefix string, cands []Candidate, today time.Time) ([]Chosen, error) {
	panic("TODO")
}
