package matching

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/curavani/matching/pkg/fault"
)

// ExcludedIDs reads an exclusion list (a search's ausgeschlossene_therapeuten
// or the patient record's) and returns the set of therapist ids it names.
// An entry names id x when it is the integer x or an object whose "id" is x
// (reference-behaviour §1.6). Other entries are ignored; null, an absent list
// or malformed JSON is the empty set.
func ExcludedIDs(raw json.RawMessage) map[int64]bool {
	ids := map[int64]bool{}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return ids
	}
	for _, e := range list {
		if id, ok := entryID(e); ok {
			ids[id] = true
		}
	}
	return ids
}

// entryID returns the therapist id of one exclusion-list entry.
func entryID(e json.RawMessage) (int64, bool) {
	e = bytes.TrimSpace(e)
	if len(e) > 0 && e[0] == '{' {
		// A map, not a struct: encoding/json would also take "ID" or "Id".
		var obj map[string]json.RawMessage
		if json.Unmarshal(e, &obj) != nil {
			return 0, false
		}
		return integer(obj["id"])
	}
	return integer(e)
}

// integer parses a JSON integer literal; booleans, strings, fractions and
// exponents are not integers.
func integer(raw json.RawMessage) (int64, bool) {
	n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	return n, err == nil
}

// ValidateExclusionList checks the ausgeschlossene_therapeuten of a
// PUT /api/platzsuchen/{id} body and returns the list to store, compacted.
// The list replaces the stored one as given (the reference's integration test
// reads back exactly [101, 102]).
//
// Entries must be integer ids. The reference let booleans through (Python's
// bool is an int); here true, 1.0, 1e2, "101" and null are rejected with a
// fault.Invalid error "Invalid therapist IDs in exclusion list", as is a body
// that is not a list. Objects with an integer "id" (the shape the automated
// paths write) are accepted and kept whole, so that a client can send back
// the list it read without losing the reasons.
//
// An absent or null field means "leave the list alone": the result is then
// nil and no error, and the caller must not write the column.
func ValidateExclusionList(raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	invalid := fault.Invalidf("Invalid therapist IDs in exclusion list")
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) != nil {
		return nil, invalid
	}
	for _, e := range list {
		if _, ok := entryID(e); !ok {
			return nil, invalid
		}
	}
	var out bytes.Buffer
	if err := json.Compact(&out, raw); err != nil {
		return nil, invalid
	}
	return out.Bytes(), nil
}

// Reasons written into exclusion entries by the automated paths.
const (
	// ReasonRejectedPrefix starts the reason of an exclusion written when a
	// therapist's response excludes them ("Rejected: abgelehnt_nicht_geeignet").
	ReasonRejectedPrefix = "Rejected: "
	// ReasonBlockedPrefix starts the reason written on therapist.blocked
	// ("Therapist blocked: {reason}").
	ReasonBlockedPrefix = "Therapist blocked: "
)

// ExclusionEntry is one object entry of an exclusion list, as the reference's
// automated paths write it: {"id": 7, "excluded_at": "2025-06-15T10:11:12.123456", "reason": "…"}.
type ExclusionEntry struct {
	ID         int64  `json:"id"`
	ExcludedAt string `json:"excluded_at"` // FormatTimestamp of the time
	Reason     string `json:"reason"`
}

// NewExclusionEntry returns the entry excluding therapist id from time at.
func NewExclusionEntry(id int64, at time.Time, reason string) ExclusionEntry {
	return ExclusionEntry{ID: id, ExcludedAt: FormatTimestamp(at), Reason: reason}
}

// JSON returns the entry as a JSON object, for example as the parameter of
// an SQL statement that appends it to the list.
func (e ExclusionEntry) JSON() json.RawMessage {
	b, _ := json.Marshal(e) // cannot fail: ints and strings only
	return b
}

// AddExclusion returns the list raw with entry appended, or raw unchanged
// (changed false) when the therapist is already in it. A null or malformed
// list counts as empty. It serves code that already holds the row locked;
// SQL that appends atomically is the other way (store.AddExclusion).
func AddExclusion(raw json.RawMessage, entry ExclusionEntry) (list json.RawMessage, changed bool) {
	if ExcludedIDs(raw)[entry.ID] {
		return raw, false
	}
	var entries []json.RawMessage
	if json.Unmarshal(raw, &entries) != nil {
		entries = nil
	}
	entries = append(entries, entry.JSON())
	out, _ := json.Marshal(entries)
	return out, true
}
