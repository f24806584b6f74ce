package matching

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/fault"
)

// ValidatePatientForSearch checks that a patient record is complete enough to
// start a platzsuche (reference-behaviour §4.4 step 2). It returns nil or a
// fault.Invalid error whose Message is the first failing reason, in the
// reference's order and words; placement.CreateSearch prefixes "Cannot create
// platzsuche: ".
//
// One deliberate difference: an empty symptome list (or one holding only
// blank entries) fails with "Patient field 'symptome' is required and cannot
// be empty". The reference let it pass, although the email to the therapist
// then has no symptoms to show (reference-behaviour §10 item 24).
func ValidatePatientForSearch(p Patient) error {
	required := []struct {
		name  string
		empty bool
	}{
		{"geschlecht", blank(p.Geschlecht)},
		{"symptome", !hasSymptoms(p.Symptome)},
		{"krankenkasse", blank(p.Krankenkasse)},
		{"geburtsdatum", blank(p.Geburtsdatum)},
	}
	for _, f := range required {
		if f.empty {
			return fault.Invalidf("Patient field '%s' is required and cannot be empty", f.name)
		}
	}
	if p.ErfahrungMitPsychotherapie == nil {
		return fault.Invalidf("Patient field 'erfahrung_mit_psychotherapie' must be explicitly set (true/false)")
	}
	if p.OffenFuerGruppentherapie == nil {
		return fault.Invalidf("Patient field 'offen_fuer_gruppentherapie' must be explicitly set (true/false)")
	}
	var days map[string]json.RawMessage
	if json.Unmarshal(p.ZeitlicheVerfuegbarkeit, &days) != nil || len(days) == 0 {
		return fault.Invalidf("Patient must have 'zeitliche_verfuegbarkeit' with at least one day/time")
	}
	if !hasTimeSlot(days) {
		return fault.Invalidf("Patient must have at least one valid time slot in 'zeitliche_verfuegbarkeit'")
	}
	if *p.ErfahrungMitPsychotherapie && blank(p.LetzteSitzungVorherigePsychotherapie) {
		return fault.Invalidf("Field 'letzte_sitzung_vorherige_psychotherapie' is required when 'erfahrung_mit_psychotherapie' is true")
	}
	return nil
}

// blank reports whether a nullable string field is null or only whitespace.
func blank(s *string) bool { return s == nil || strings.TrimSpace(*s) == "" }

// hasSymptoms reports whether symptome holds something: a list with at least
// one non-blank entry, or (as the reference tolerated) a non-blank string.
func hasSymptoms(raw json.RawMessage) bool {
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil && list != nil {
		for _, e := range list {
			if truthy(e) {
				return true
			}
		}
		return false
	}
	return truthy(raw)
}

// hasTimeSlot reports whether any day of an availability object lists a
// non-blank slot.
func hasTimeSlot(days map[string]json.RawMessage) bool {
	for _, v := range days {
		var slots []json.RawMessage
		if json.Unmarshal(v, &slots) != nil {
			continue
		}
		for _, s := range slots {
			if truthy(s) {
				return true
			}
		}
	}
	return false
}

// truthy is Python's truth value of a JSON value, with strings stripped
// first: null, false, 0, "", "  ", [] and {} are false.
func truthy(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case float64:
		return v != 0
	case string:
		return strings.TrimSpace(v) != ""
	case []any:
		return len(v) > 0
	case map[string]any:
		return len(v) > 0
	}
	return false
}

// Age returns the age in whole years on today's date of someone born on
// birth (YYYY-MM-DD, or an ISO datetime whose date part counts): the
// difference of the years, less one when the birthday has not come yet this
// year. Someone born on 29 February turns a year older on 1 March in common
// years. ok is false when birth is not such a date.
func Age(birth string, today time.Time) (int, bool) {
	d, ok := parseDate(strings.TrimSpace(birth))
	if !ok {
		return 0, false
	}
	b, _ := time.Parse(time.DateOnly, d)
	y, m, day := today.Date()
	age := y - b.Year()
	if m < b.Month() || (m == b.Month() && day < b.Day()) {
		age--
	}
	return age, true
}
