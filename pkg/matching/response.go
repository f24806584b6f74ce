package matching

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
func IsOutcome(s string) bool { panic("TODO") }

// RowStatus is the anfrage_patient_status a patient row takes for outcome.
func RowStatus(outcome string) string { panic("TODO") }

// Accepted reports whether outcome counts as an acceptance (and makes the
// patient's search erfolgreich).
func Accepted(outcome string) bool { panic("TODO") }

// Summary is the classification of a therapist's response.
type Summary struct {
	Accepted   int
	Rejected   int
	NoResponse int
	Type       string // one of the Response* constants
}

// Classify counts outcomes of an anfrage with size patients (patients
// without an outcome count as no response) and derives the response type.
func Classify(outcomes []string, size int) Summary { panic("TODO") }

// ExcludesTherapist reports whether outcome adds the therapist to the
// patient's search exclusion list.
func ExcludesTherapist(outcome string) bool { panic("TODO") }
