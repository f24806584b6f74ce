package matching

import (
	"time"

	"github.com/curavani/matching/pkg/neighbours"
)

// SelectTherapists builds the therapist selection list from the active
// therapists of a PLZ prefix: email groups (a practice sharing one address)
// are reduced to one contact, therapists with a pending anfrage (pending ids)
// or in a cooling period (their record's naechster_kontakt_moeglich or
// matching's own cooling date in cooling, YYYY-MM-DD, after today) are
// skipped with their whole group, and the rest is ordered by tier, nachname,
// vorname.
func SelectTherapists(list []neighbours.Therapist, pending map[int64]bool, cooling map[int64]string, today time.Time) []neighbours.Therapist {
	panic("TODO")
}
