package matching

import (
	"context"
	"encoding/json"
	"time"

	"github.com/curavani/matching/pkg/neighbours"
)

// CheckConstraints evaluates the hard constraints between patient p and
// therapist t in the order distance, exclusion (the search's list
// searchExclusions and the patient's own list), patient preferences,
// therapist preferences. ok is false with a short reason when one fails;
// err is set only when a neighbour (geocoding) is unavailable.
func CheckConstraints(ctx context.Context, p neighbours.Patient, t neighbours.Therapist, searchExclusions json.RawMessage, d neighbours.Distances, defaultMaxKM float64, today time.Time) (ok bool, reason string, err error) {
	panic("TODO")
}
