package matching

// Search statuses (the suchstatus enum), in enum order.
const (
	StatusAktiv       = "aktiv"
	StatusErfolgreich = "erfolgreich"
	StatusPausiert    = "pausiert"
	StatusAbgebrochen = "abgebrochen"
)

// ValidStatuses lists the search statuses in enum order.
var ValidStatuses = []string{StatusAktiv, StatusErfolgreich, StatusPausiert, StatusAbgebrochen}

// ValidStatusesText formats ValidStatuses as a Python list
// ("['aktiv', 'erfolgreich', 'pausiert', 'abgebrochen']") for the 400 message
// of an unknown status.
func ValidStatusesText() string { panic("TODO") }

// IsValidStatus reports whether s is one of ValidStatuses.
func IsValidStatus(s string) bool { panic("TODO") }

// CheckTransition returns nil when a search may move from status from to
// status to, else a fault.Conflict error with the message
// "Invalid status transition from X to Y". A transition to the same status is
// invalid too.
func CheckTransition(from, to string) error { panic("TODO") }
