package neighbours

import "encoding/json"

// Patient is the part of a patient-service record (GET /api/patients/{id}) that
// matching reads. Raw keeps the whole record, because the detail endpoints of
// the anfrage API return it unchanged. Pointer fields are nil when the record
// holds null or lacks the key; the platzsuche validation needs that difference.
type Patient struct {
	ID                                   int64           `json:"id"`
	Anrede                               *string         `json:"anrede"`
	Vorname                              *string         `json:"vorname"`
	Nachname                             *string         `json:"nachname"`
	Strasse                              *string         `json:"strasse"`
	PLZ                                  *string         `json:"plz"`
	Ort                                  *string         `json:"ort"`
	Email                                *string         `json:"email"`
	Geschlecht                           *string         `json:"geschlecht"`
	Geburtsdatum                         *string         `json:"geburtsdatum"` // YYYY-MM-DD
	Symptome                             json.RawMessage `json:"symptome"`     // a list of strings; null or absent kept as such
	Krankenkasse                         *string         `json:"krankenkasse"`
	ErfahrungMitPsychotherapie           *bool           `json:"erfahrung_mit_psychotherapie"`
	LetzteSitzungVorherigePsychotherapie *string         `json:"letzte_sitzung_vorherige_psychotherapie"` // YYYY-MM-DD
	OffenFuerGruppentherapie             *bool           `json:"offen_fuer_gruppentherapie"`
	ZeitlicheVerfuegbarkeit              json.RawMessage `json:"zeitliche_verfuegbarkeit"`  // {"montag": ["09:00-12:00"], ...}
	RaeumlicheVerfuegbarkeit             json.RawMessage `json:"raeumliche_verfuegbarkeit"` // {"max_km": 25}
	Verkehrsmittel                       *string         `json:"verkehrsmittel"`
	BevorzugtesTherapeutengeschlecht     *string         `json:"bevorzugtes_therapeutengeschlecht"`
	BevorzugtesTherapieverfahren         *string         `json:"bevorzugtes_therapieverfahren"`
	AusgeschlosseneTherapeuten           json.RawMessage `json:"ausgeschlossene_therapeuten"` // ints or {id,...} objects
	Raw                                  json.RawMessage `json:"-"`
}

// Therapist is the part of a therapist-service record (GET /api/therapists/{id}
// and the list GET /api/therapists) that matching reads. Raw keeps the whole record.
type Therapist struct {
	ID                         int64           `json:"id"`
	Anrede                     *string         `json:"anrede"`
	Titel                      *string         `json:"titel"`
	Vorname                    *string         `json:"vorname"`
	Nachname                   *string         `json:"nachname"`
	Strasse                    *string         `json:"strasse"`
	PLZ                        *string         `json:"plz"`
	Ort                        *string         `json:"ort"`
	Telefon                    *string         `json:"telefon"`
	Email                      *string         `json:"email"`
	Status                     *string         `json:"status"` // aktiv, gesperrt, inaktiv
	Geschlecht                 *string         `json:"geschlecht"`
	Psychotherapieverfahren    *string         `json:"psychotherapieverfahren"`
	AlterMin                   *int            `json:"alter_min"`
	AlterMax                   *int            `json:"alter_max"`
	Geschlechtspraeferenz      *string         `json:"geschlechtspraeferenz"`
	BevorzugtGruppentherapie   *bool           `json:"bevorzugt_gruppentherapie"`
	PotenziellVerfuegbar       *bool           `json:"potenziell_verfuegbar"`
	UeberCuravaniInformiert    *bool           `json:"ueber_curavani_informiert"`
	NaechsterKontaktMoeglich   *string         `json:"naechster_kontakt_moeglich"` // YYYY-MM-DD
	BevorzugteDiagnosen        json.RawMessage `json:"bevorzugte_diagnosen"`
	TelefonischeErreichbarkeit json.RawMessage `json:"telefonische_erreichbarkeit"` // {"montag": ["10:00-12:00"]}
	Raw                        json.RawMessage `json:"-"`
}

// Email is what matching sends to POST /api/emails of the communication service.
type Email struct {
	TherapistID     int64  `json:"therapist_id"`
	Betreff         string `json:"betreff"`
	InhaltMarkdown  string `json:"inhalt_markdown"`
	EmpfaengerEmail string `json:"empfaenger_email"`
	EmpfaengerName  string `json:"empfaenger_name"`
	AddLegalFooter  bool   `json:"add_legal_footer"`
	Status          string `json:"status,omitempty"` // In_Warteschlange: created directly as queued
}

// PhoneCall is what matching sends to POST /api/phone-calls of the communication service.
type PhoneCall struct {
	TherapistID          int64  `json:"therapist_id"`
	TherapeutenanfrageID int64  `json:"therapeutenanfrage_id"`
	GeplantesDatum       string `json:"geplantes_datum"` // YYYY-MM-DD
	GeplanteZeit         string `json:"geplante_zeit"`   // HH:MM
	Notizen              string `json:"notizen"`
}

// EmailRecord is an email as the communication service lists it (GET
// /api/emails): its id and subject.
type EmailRecord struct {
	ID      int64
	Betreff string
}

// PhoneCallRecord is a phone call as the communication service lists it
// (GET /api/phone-calls): the parts matching reads. GeplantesDatum
// (YYYY-MM-DD) and GeplanteZeit (HH:MM) are empty when the service sent null,
// nothing, or a value that is not a date or a time of day.
type PhoneCallRecord struct {
	ID             int64
	GeplantesDatum string
	GeplanteZeit   string
}

// DistanceQuery asks the geocoding service for the travel distance between two addresses.
type DistanceQuery struct {
	Origin      string
	Destination string
	TravelMode  string // car or transit
}
