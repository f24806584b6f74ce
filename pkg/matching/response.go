package matching

import "slices"

// Patient outcomes (the patientenergebnis enum), in enum order.
const (
	OutcomeAngenommen             = "angenommen"
	OutcomeAbgelehntKapazitaet    = "abgelehnt_Kapazitaet"
	OutcomeAbgelehntNichtGeeignet = "abgelehnt_nicht_geeignet"
	OutcomeAbgelehntSonstiges     = "abgelehnt_sonstiges"
	OutcomeNichtErschienen        = "nicht_erschienen"
	OutcomeInSitzungen            = "in_Sitzungen"
)

// Outcomes lists the patient outcomes in enum order.
var Outcomes = []string{OutcomeAngenommen, OutcomeAbgelehntKapazitaet, OutcomeAbgelehntNichtGeeignet, OutcomeAbgelehntSonstiges, OutcomeNichtErschienen, OutcomeInSitzungen}

// Response types (the antworttyp enum).
const (
	ResponseVollstaendigeAnnahme   = "vollstaendige_Annahme"
	ResponseTeilweiseAnnahme       = "teilweise_Annahme"
	ResponseVollstaendigeAblehnung = "vollstaendige_Ablehnung"
	ResponseKeineAntwort           = "keine_Antwort"
)

// Patient row statuses (the anfrage_patient_status enum).
const (
	RowAnstehend    = "anstehend"
	RowAngenommen   = "angenommen"
	RowAbgelehnt    = "abgelehnt"
	RowKeineAntwort = "keine_antwort"
)

// IsOutcome reports whether s is one of Outcomes.
func IsOutcome(s string) bool { return slices.Contains(Outcomes, s) }

// Accepted reports whether outcome counts as an acceptance: angenommen, and
// in_Sitzungen (the patient already has sessions with the therapist, so the
// place is found; product §8 item 2). An accepted patient's search becomes
// erfolgreich.
func Accepted(outcome string) bool {
	return outcome == OutcomeAngenommen || outcome == OutcomeInSitzungen
}

// Rejected reports whether outcome counts as a rejection: the three
// abgelehnt_ outcomes, and nicht_erschienen (the patient did not come, so
// this therapist will not take them; product §8 item 2).
func Rejected(outcome string) bool {
	switch outcome {
	case OutcomeAbgelehntKapazitaet, OutcomeAbgelehntNichtGeeignet, OutcomeAbgelehntSonstiges, OutcomeNichtErschienen:
		return true
	}
	return false
}

// RowStatus is the anfrage_patient_status a patient row takes for outcome:
// angenommen for an acceptance, abgelehnt for a rejection, keine_antwort for
// no outcome (""). The reference left in_Sitzungen rows anstehend and put
// nicht_erschienen rows to keine_antwort while counting them nowhere; here
// the row status and the counts of Classify always agree.
func RowStatus(outcome string) string {
	switch {
	case Accepted(outcome):
		return RowAngenommen
	case Rejected(outcome):
		return RowAbgelehnt
	}
	return RowKeineAntwort
}

// Summary is the classification of a therapist's response.
type Summary struct {
	Accepted   int
	Rejected   int
	NoResponse int
	Type       string // one of the Response* constants
}

// Classify counts the outcomes of an anfrage of size patients, one entry per
// patient row ("" for a row without an outcome; rows missing from outcomes
// count as no response too), and derives the response type from these new
// counts: all accepted → vollstaendige_Annahme, some accepted →
// teilweise_Annahme, all rejected → vollstaendige_Ablehnung, else
// keine_Antwort. Accepted + Rejected + NoResponse = size holds whenever
// outcomes has at most size entries (the reference computed the type from the
// previously stored counts; product §8 item 1).
func Classify(outcomes []string, size int) Summary {
	var s Summary
	for _, o := range outcomes {
		switch {
		case Accepted(o):
			s.Accepted++
		case Rejected(o):
			s.Rejected++
		}
	}
	s.NoResponse = max(size-s.Accepted-s.Rejected, 0)
	switch {
	case size > 0 && s.Accepted == size:
		s.Type = ResponseVollstaendigeAnnahme
	case s.Accepted > 0:
		s.Type = ResponseTeilweiseAnnahme
	case size > 0 && s.Rejected == size:
		s.Type = ResponseVollstaendigeAblehnung
	default:
		s.Type = ResponseKeineAntwort
	}
	return s
}

// ExcludesTherapist reports whether outcome adds the therapist to the
// exclusion list of the patient's search (with reason ExclusionReason).
// abgelehnt_nicht_geeignet does, as in the reference. nicht_erschienen does
// too: the reference declared it (should_exclude_therapist) but never reached
// that code, and offering a therapist again the patient who did not turn up
// to their appointment wastes the next anfrage's place. Capacity and other
// rejections do not exclude: the therapist may have room next time.
func ExcludesTherapist(outcome string) bool {
	return outcome == OutcomeAbgelehntNichtGeeignet || outcome == OutcomeNichtErschienen
}

// ExclusionReason is the reason stored with an exclusion caused by outcome:
// "Rejected: abgelehnt_nicht_geeignet".
func ExclusionReason(outcome string) string { return ReasonRejectedPrefix + outcome }
