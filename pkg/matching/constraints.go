package matching

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CheckConstraints evaluates the hard constraints of reference-behaviour
// §3.3 between patient p and therapist t, with product §8 item 10's fixes.
// ok is false with a short reason (for logs) when one fails. d is the
// geocoding service's answer for TripBetween(p, t); the caller asks it, and
// passes the zero Distance when there is no trip or no distance.
//
//   - Distance: see checkDistance.
//   - Exclusion: the therapist is in the search's list (searchExclusions) or
//     in the patient record's own ausgeschlossene_therapeuten, as an integer
//     or an object's id.
//   - Patient preferences: bevorzugtes_therapeutengeschlecht (unless empty or
//     Egal) must equal the therapist's geschlecht (männlich matches Männlich;
//     divers and keine_Angabe match no specific preference);
//     bevorzugtes_therapieverfahren (unless empty or egal) must equal the
//     therapist's psychotherapieverfahren (a therapist with egal or none
//     fails). There is no group-therapy check on this side.
//   - Therapist preferences: alter_min and alter_max (0 or less = unset) bound
//     the patient's age on today inclusively, and a patient without a readable
//     geburtsdatum fails once either is set; geschlechtspraeferenz (unless
//     empty or Egal) must equal the patient's geschlecht as above;
//     bevorzugt_gruppentherapie true needs offen_fuer_gruppentherapie true.
//
// Texts are compared ignoring case and surrounding spaces, so a free-text
// preference "weiblich" matches a weiblich patient, which the reference's
// exact comparison did not.
//
// Order: distance, exclusion, patient preferences, therapist preferences, as
// the reference and the issue specify, so the reason names the same first
// failure as the reference would. The verdict is a conjunction either way;
// running the local checks first would save geocoding calls for candidates
// they reject (measured in placement's BenchmarkCompose), but the contract is
// the order.
func CheckConstraints(p Patient, t Therapist, searchExclusions json.RawMessage, d Distance, defaultMaxKM float64, today time.Time) (ok bool, reason string) {
	if reason := checkDistance(p, d, defaultMaxKM); reason != "" {
		return false, reason
	}
	if reason := checkLocal(p, t, searchExclusions, today); reason != "" {
		return false, reason
	}
	return true, ""
}

// HasPLZPrefix reports whether the patient's PLZ starts with prefix, the
// area an anfrage is composed for.
func HasPLZPrefix(p Patient, prefix string) bool {
	return strings.HasPrefix(strings.TrimSpace(str(p.PLZ)), prefix)
}

// CheckLocal runs the constraints that need no distance (exclusion, the
// patient's and the therapist's preferences) and returns the first failure,
// or "". A pair it rejects fails CheckConstraints too, whatever the
// distance, so a caller may use it to skip asking for the distance; the
// reason to report is still CheckConstraints' (the distance comes first).
func CheckLocal(p Patient, t Therapist, searchExclusions json.RawMessage, today time.Time) string {
	return checkLocal(p, t, searchExclusions, today)
}

// checkLocal runs the constraints that need no neighbour call and returns
// the first failure, or "".
func checkLocal(p Patient, t Therapist, searchExclusions json.RawMessage, today time.Time) string {
	// Exclusion.
	if ExcludedIDs(searchExclusions)[t.ID] {
		return "therapist excluded by the search"
	}
	if ExcludedIDs(p.AusgeschlosseneTherapeuten)[t.ID] {
		return "therapist excluded by the patient"
	}
	// Patient preferences.
	if pref := str(p.BevorzugtesTherapeutengeschlecht); isSet(pref) && !same(pref, str(t.Geschlecht)) {
		return fmt.Sprintf("patient prefers %s, therapist is %s", pref, or(t.Geschlecht, "not given"))
	}
	if pref := str(p.BevorzugtesTherapieverfahren); isSet(pref) && !same(pref, str(t.Psychotherapieverfahren)) {
		return fmt.Sprintf("patient prefers %s, therapist offers %s", pref, or(t.Psychotherapieverfahren, "nothing given"))
	}
	// Therapist preferences.
	lo, hi := bound(t.AlterMin), bound(t.AlterMax)
	if lo > 0 || hi > 0 {
		age, ok := Age(str(p.Geburtsdatum), today)
		switch {
		case !ok:
			return "therapist has an age range, patient's birth date unknown"
		case lo > 0 && age < lo:
			return fmt.Sprintf("patient aged %d, therapist takes from %d", age, lo)
		case hi > 0 && age > hi:
			return fmt.Sprintf("patient aged %d, therapist takes up to %d", age, hi)
		}
	}
	if pref := str(t.Geschlechtspraeferenz); isSet(pref) && !same(pref, str(p.Geschlecht)) {
		return fmt.Sprintf("therapist prefers %s, patient is %s", pref, or(p.Geschlecht, "not given"))
	}
	if isTrue(t.BevorzugtGruppentherapie) && !isTrue(p.OffenFuerGruppentherapie) {
		return "therapist prefers group therapy, patient is not open to it"
	}
	return ""
}

// Trip is what the distance rule measures: from the patient's address to
// the therapist's, by the patient's means of travel.
type Trip struct {
	From, To string
	Mode     string // car or transit (TravelMode)
}

// TripBetween returns the trip between patient p and therapist t. An
// address is strasse, plz, ort (the non-empty ones, joined with ", "); ok is
// false when either has no ort, and the distance rule then passes.
func TripBetween(p Patient, t Therapist) (trip Trip, ok bool) {
	from, to := address(p.Strasse, p.PLZ, p.Ort), address(t.Strasse, t.PLZ, t.Ort)
	if from == "" || to == "" {
		return Trip{}, false
	}
	return Trip{From: from, To: to, Mode: TravelMode(str(p.Verkehrsmittel))}, true
}

// PatientAddress is the patient's address as the distance rule sends it to
// the geocoding service (see TripBetween), "" without an ort.
func PatientAddress(p Patient) string { return address(p.Strasse, p.PLZ, p.Ort) }

// TherapistAddress is the therapist's address as the distance rule sends
// it, "" without an ort.
func TherapistAddress(t Therapist) string { return address(t.Strasse, t.PLZ, t.Ort) }

// Distance is the geocoding service's answer for a trip: KM when Known.
type Distance struct {
	KM    float64
	Known bool
}

// checkDistance passes when the travel distance between the patient's and
// the therapist's address is at most the patient's max_km (inclusive), and
// returns the reason otherwise.
//
//   - max_km is raeumliche_verfuegbarkeit.max_km when that is a positive
//     finite number (or a string holding one); absent, null, zero, negative
//     or non-numeric means defaultMaxKM (the reference failed with a 500 on
//     null; 0 is read as "not set", as for the age bounds, since nobody can
//     travel 0 km).
//   - Fail-open, as the reference: when either address is missing or the
//     geocoding service cannot compute a distance (unknown address, no route),
//     the pair passes. Failing closed would silently starve a therapist (or a
//     patient) of every anfrage because of one bad address, and the anfrage is
//     reviewed by staff before it is sent. An outage is different: the caller
//     fails, since silently passing every candidate would ignore max_km for
//     the whole anfrage.
func checkDistance(p Patient, d Distance, defaultMaxKM float64) string {
	maxKM := MaxKM(p.RaeumlicheVerfuegbarkeit, defaultMaxKM)
	if d.Known && d.KM > maxKM {
		return fmt.Sprintf("distance %.1f km exceeds the patient's %g km", d.KM, maxKM)
	}
	return ""
}

// MaxKM reads max_km from a patient's raeumliche_verfuegbarkeit, or returns
// def when it is absent, null, not a positive number or a string that does
// not hold one.
func MaxKM(raeumlich json.RawMessage, def float64) float64 {
	var v map[string]json.RawMessage
	if json.Unmarshal(raeumlich, &v) != nil {
		return def
	}
	text := strings.TrimSpace(string(v["max_km"]))
	if s, err := strconv.Unquote(text); err == nil {
		text = strings.TrimSpace(s)
	}
	km, err := strconv.ParseFloat(text, 64)
	if err != nil || km <= 0 || math.IsNaN(km) || math.IsInf(km, 0) {
		return def
	}
	return km
}

// TravelMode maps a patient's verkehrsmittel to the geocoding service's
// travel_mode: ÖPNV and transit → transit; anything else, Auto and none
// included → car.
func TravelMode(verkehrsmittel string) string {
	switch strings.ToLower(strings.TrimSpace(verkehrsmittel)) {
	case "öpnv", "transit":
		return "transit"
	}
	return "car"
}

// address joins the non-empty parts of an address with ", "; "" when ort is
// missing.
func address(strasse, plz, ort *string) string {
	o := strings.TrimSpace(str(ort))
	if o == "" {
		return ""
	}
	var parts []string
	for _, s := range []string{strings.TrimSpace(str(strasse)), strings.TrimSpace(str(plz)), o} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// isSet reports whether a preference asks for something specific.
func isSet(pref string) bool {
	pref = strings.TrimSpace(pref)
	return pref != "" && !strings.EqualFold(pref, "egal")
}

// same compares two enum-like texts ignoring case and surrounding spaces.
func same(a, b string) bool { return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b)) }

// bound reads an age bound; nil and values of 0 or less are unset (0).
func bound(n *int) int {
	if n == nil || *n < 0 {
		return 0
	}
	return *n
}

func or(s *string, def string) string {
	if s == nil || strings.TrimSpace(*s) == "" {
		return def
	}
	return *s
}
