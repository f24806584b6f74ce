package matching

import (
	"encoding/json"
	"time"
)

// ExcludedIDs reads an exclusion list (a search's ausgeschlossene_therapeuten
// or the patient's) whose entries are integers or objects with an "id" key,
// and returns the set of therapist ids. Anything else is ignored; null, an
// absent list or malformed JSON is the empty set.
func ExcludedIDs(raw json.RawMessage) map[int64]bool { panic("TODO") }

// ValidateExclusionList checks a list sent with PUT /api/platzsuchen/{id}:
// it must be a JSON list of integers (booleans, floats and strings are
// rejected). It returns the list normalised as JSON, or a fault.Invalid error
// "Invalid therapist IDs in exclusion list".
func ValidateExclusionList(raw json.RawMessage) (json.RawMessage, error) { panic("TODO") }

// ExclusionEntry is one object entry of a search's exclusion list, written
// when a therapist answers abgelehnt_nicht_geeignet.
type ExclusionEntry struct {
	ID         int64  `json:"id"`
	ExcludedAt string `json:"excluded_at"` // FormatTimestamp of the time
	Reason     string `json:"reason"`
}

// NewExclusionEntry returns the entry excluding therapist id at time at.
func NewExclusionEntry(id int64, at time.Time, reason string) ExclusionEntry { panic("TODO") }

// AddExclusion appends entry to the exclusion list raw unless the therapist
// is already in it, and returns the new list as JSON.
func AddExclusion(raw json.RawMessage, entry ExclusionEntry) (json.RawMessage, error) { panic("TODO") }
