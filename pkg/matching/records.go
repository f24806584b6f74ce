package matching

import "encoding/json"

// Patient is what the rules read of a patient: the hard constraints, the
// checks before a search starts and the anonymous letter to a therapist.
// Names and contact data are not part of it. Pointer fields are nil when
// the patient service has no value, which the checks before a search tell
// apart from an empty one. The JSON fields hold the service's value as
// given, because the rules accept the loose shapes the reference accepted
// (a symptom list or a string, max_km as a number or a numeric string).
type Patient struct {
	ID                                   int64
	Strasse                              *string
	PLZ                                  *string
	Ort                                  *string
	Geschlecht                           *string // männlich, weiblich, divers, keine_Angabe
	Geburtsdatum                         *string // YYYY-MM-DD
	Symptome                             json.RawMessage
	Krankenkasse                         *string
	ErfahrungMitPsychotherapie           *bool
	LetzteSitzungVorherigePsychotherapie *string // YYYY-MM-DD
	OffenFuerGruppentherapie             *bool
	ZeitlicheVerfuegbarkeit              json.RawMessage // {"montag": ["09:00-12:00"], …}
	RaeumlicheVerfuegbarkeit             json.RawMessage // {"max_km": 25}
	Verkehrsmittel                       *string
	BevorzugtesTherapeutengeschlecht     *string // Männlich, Weiblich, Egal
	BevorzugtesTherapieverfahren         *string
	AusgeschlosseneTherapeuten           json.RawMessage // therapist ids or {id, …} objects
}

// Therapist is what the rules read of a therapist: the hard constraints,
// the selection list, the letter and its recipient, the call time.
type Therapist struct {
	ID                         int64
	Anrede                     *string
	Titel                      *string
	Vorname                    *string
	Nachname                   *string
	Strasse                    *string
	PLZ                        *string
	Ort                        *string
	Email                      *string
	Status                     *string // aktiv, gesperrt, inaktiv
	Geschlecht                 *string
	Psychotherapieverfahren    *string
	AlterMin                   *int
	AlterMax                   *int
	Geschlechtspraeferenz      *string
	BevorzugtGruppentherapie   *bool
	PotenziellVerfuegbar       *bool
	UeberCuravaniInformiert    *bool
	NaechsterKontaktMoeglich   *string         // YYYY-MM-DD
	TelefonischeErreichbarkeit json.RawMessage // {"montag": ["10:00-12:00"], …}
}
