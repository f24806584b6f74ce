package matching

import (
	"slices"
	"strings"

	"github.com/curavani/matching/pkg/fault"
)

// Search statuses (the suchstatus enum), in enum order.
const (
	StatusAktiv       = "aktiv"
	StatusErfolgreich = "erfolgreich"
	StatusPausiert    = "pausiert"
	StatusAbgebrochen = "abgebrochen"
)

// ValidStatuses lists the search statuses in enum order.
var ValidStatuses = []string{StatusAktiv, StatusErfolgreich, StatusPausiert, StatusAbgebrochen}

// transitions is the state machine of a search (reference-behaviour §1.7):
// erfolgreich and abgebrochen are terminal.
var transitions = map[string][]string{
	StatusAktiv:    {StatusErfolgreich, StatusPausiert, StatusAbgebrochen},
	StatusPausiert: {StatusAktiv, StatusAbgebrochen},
}

// ValidStatusesText formats ValidStatuses as a Python list
// ("['aktiv', 'erfolgreich', 'pausiert', 'abgebrochen']"), because the
// reference's 400 message for an unknown status prints the list that way.
func ValidStatusesText() string {
	quoted := make([]string, len(ValidStatuses))
	for i, s := range ValidStatuses {
		quoted[i] = "'" + s + "'"
	}
	return "[" + strings.Join(quoted, ", ") + "]"
}

// IsValidStatus reports whether s is one of ValidStatuses (case-sensitive,
// as the enum labels are).
func IsValidStatus(s string) bool { return slices.Contains(ValidStatuses, s) }

// CheckTransition returns nil when a search may move from status from to
// status to, else a fault.Conflict error with the message
// "Invalid status transition from X to Y". Setting the same status again is
// invalid too, as in the reference; callers check that to is a valid status
// first (an unknown one is a 400, not a 409).
func CheckTransition(from, to string) error {
	if slices.Contains(transitions[from], to) {
		return nil
	}
	return fault.Conflictf("Invalid status transition from %s to %s", from, to)
}
