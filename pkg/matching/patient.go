package matching

import (
	"time"

	"github.com/curavani/matching/pkg/neighbours"
)

// ValidatePatientForSearch checks that a patient record is complete enough to
// start a platzsuche. It returns nil or a fault.Invalid error whose Message is
// the first failing reason (the API prefixes "Cannot create platzsuche: ").
func ValidatePatientForSearch(p neighbours.Patient) error { panic("TODO") }

// Age returns the age in whole years on today of someone born on birth
// (YYYY-MM-DD); ok is false when birth is not such a date.
func Age(birth string, today time.Time) (int, bool) { panic("TODO") }
