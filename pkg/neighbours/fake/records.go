package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// kind is how a reference service parses a field (flask-restful reqparse types).
type kind int

const (
	kString kind = iota // type=str: numbers become their text
	kBool               // type=bool: Python truthiness
	kInt                // type=int
	kDate               // YYYY-MM-DD, strict; "" clears
	kList               // a JSON array
	kObject             // a JSON object
	kAny                // stored as given
	kStamp              // created_at/updated_at: set by the service
)

type field struct {
	name string
	kind kind
	def  any // stored when the key is missing or null
}

// patientFields are the columns the patient service serialises (patients.py).
var patientFields = []field{
	{"anrede", kString, nil}, {"geschlecht", kString, nil},
	{"vorname", kString, nil}, {"nachname", kString, nil},
	{"strasse", kString, nil}, {"plz", kString, nil}, {"ort", kString, nil},
	{"email", kString, nil}, {"telefon", kString, nil},
	{"hausarzt", kString, nil}, {"krankenkasse", kString, nil}, {"krankenversicherungsnummer", kString, nil},
	{"geburtsdatum", kDate, nil}, {"symptome", kList, nil},
	{"erfahrung_mit_psychotherapie", kBool, nil}, {"letzte_sitzung_vorherige_psychotherapie", kDate, nil},
	{"vertraege_unterschrieben", kBool, nil}, {"startdatum", kDate, nil},
	{"erster_therapieplatz_am", kDate, nil}, {"funktionierender_therapieplatz_am", kDate, nil},
	{"status", kString, "offen"}, {"empfehler_der_unterstuetzung", kString, nil},
	{"zahlungsreferenz", kString, nil}, {"zahlung_eingegangen", kBool, nil},
	{"zeitliche_verfuegbarkeit", kObject, nil}, {"raeumliche_verfuegbarkeit", kObject, nil},
	{"verkehrsmittel", kString, nil},
	{"offen_fuer_gruppentherapie", kBool, nil}, {"offen_fuer_diga", kBool, nil},
	{"letzter_kontakt", kDate, nil},
	{"ausgeschlossene_therapeuten", kList, []any{}},
	{"bevorzugtes_therapeutengeschlecht", kString, nil}, {"bevorzugtes_therapieverfahren", kString, nil},
	{"created_at", kStamp, nil}, {"updated_at", kStamp, nil},
}

// therapistFields are the columns the therapist service serialises
// (therapists.py; psychotherapieverfahren is one enum value at 70439e6, a list
// earlier, so it is kept as given).
var therapistFields = []field{
	{"anrede", kString, nil}, {"titel", kString, nil},
	{"vorname", kString, nil}, {"nachname", kString, nil},
	{"strasse", kString, nil}, {"plz", kString, nil}, {"ort", kString, nil},
	{"telefon", kString, nil}, {"fax", kString, nil}, {"email", kString, nil}, {"webseite", kString, nil},
	{"kassensitz", kBool, nil}, {"geschlecht", kString, nil},
	{"telefonische_erreichbarkeit", kObject, nil}, {"fremdsprachen", kList, nil},
	{"psychotherapieverfahren", kAny, "egal"},
	{"zusatzqualifikationen", kString, nil}, {"besondere_leistungsangebote", kString, nil},
	{"letzter_kontakt_email", kDate, nil}, {"letzter_kontakt_telefon", kDate, nil},
	{"letztes_persoenliches_gespraech", kDate, nil},
	{"potenziell_verfuegbar", kBool, false}, {"potenziell_verfuegbar_notizen", kString, nil},
	{"ueber_curavani_informiert", kBool, false},
	{"naechster_kontakt_moeglich", kDate, nil}, {"bevorzugte_diagnosen", kList, nil},
	{"alter_min", kInt, nil}, {"alter_max", kInt, nil},
	{"geschlechtspraeferenz", kString, nil}, {"arbeitszeiten", kObject, nil},
	{"bevorzugt_gruppentherapie", kBool, false},
	{"status", kString, "aktiv"}, {"sperrgrund", kString, nil}, {"sperrdatum", kDate, nil},
	{"created_at", kStamp, nil}, {"updated_at", kStamp, nil},
}

// phoneCallFields are the keys of a phone-call record (§7.2).
var phoneCallFields = []field{
	{"therapist_id", kInt, nil}, {"patient_id", kInt, nil}, {"therapeutenanfrage_id", kInt, nil},
	{"geplantes_datum", kDate, nil}, {"geplante_zeit", kString, nil}, {"dauer_minuten", kInt, 5},
	{"tatsaechliches_datum", kDate, nil}, {"tatsaechliche_zeit", kString, nil},
	{"status", kString, "geplant"}, {"ergebnis", kString, nil}, {"notizen", kString, nil},
	{"created_at", kStamp, nil}, {"updated_at", kStamp, nil},
}

var therapistStatuses = []string{"aktiv", "gesperrt", "inaktiv"}

var emailStatuses = []string{"Entwurf", "In_Warteschlange", "Wird_gesendet", "Gesendet", "Fehlgeschlagen"}

var phoneCallStatuses = []string{"geplant", "abgeschlossen", "fehlgeschlagen", "abgesagt"}

// pyList formats values as Python prints a list of strings: ['a', 'b'].
func pyList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = "'" + v + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func contains(vals []string, v string) bool {
	for _, x := range vals {
		if x == v {
			return true
		}
	}
	return false
}

// isoStamp formats t as the reference's naive-UTC ISO datetime; like Python's
// isoformat it drops a zero fraction.
func isoStamp(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05")
	}
	return t.Format("2006-01-02T15:04:05.000000")
}

// dateStamp formats t as the patient and therapist services serialise their
// created_at and updated_at (a DateField: the date only).
func dateStamp(t time.Time) string { return t.UTC().Format("2006-01-02") }

// rfc822 formats t as flask-restful's fields.DateTime does.
func rfc822(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 -0000") }

// fillDefaults stores the default of every known field that is missing or
// null, and the creation stamp.
func fillDefaults(m map[string]any, fields []field, now string) {
	for _, f := range fields {
		if v, ok := m[f.name]; ok && v != nil {
			continue
		}
		switch {
		case f.kind == kStamp && f.name == "created_at":
			m[f.name] = now
		case f.def != nil:
			m[f.name] = cloneDefault(f.def)
		default:
			m[f.name] = nil
		}
	}
}

func cloneDefault(v any) any {
	if l, ok := v.([]any); ok {
		return append([]any{}, l...)
	}
	return v
}

// toMap turns v into a JSON object with json.Number numbers.
func toMap(v any) (map[string]any, error) {
	var raw []byte
	switch x := v.(type) {
	case []byte:
		raw = x
	case json.RawMessage:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	return decodeObject(raw)
}

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("not a JSON object")
	}
	return m, nil
}

// intValue reads an integer from a JSON number (json.Number or float64).
func intValue(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, true
		}
		if f, err := x.Float64(); err == nil && f == math.Trunc(f) {
			return int64(f), true
		}
	case float64:
		if x == math.Trunc(x) {
			return int64(x), true
		}
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

// pyRepr is how Python's str() shows a JSON value in an error message.
func pyRepr(v any) string {
	switch x := v.(type) {
	case string:
		return "'" + x + "'"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// convert parses one field of a create or update body as reqparse would. It
// returns the value to store, or the 400 message.
func convert(f field, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	switch f.kind {
	case kString:
		switch x := v.(type) {
		case string:
			return x, ""
		case json.Number:
			return x.String(), ""
		case bool:
			return pyRepr(x), ""
		}
		return nil, fmt.Sprintf("%s: expected a string, got %s", f.name, pyRepr(v))
	case kBool:
		switch x := v.(type) {
		case bool:
			return x, ""
		case string: // Python bool("false") is True
			return x != "", ""
		case json.Number:
			fv, _ := x.Float64()
			return fv != 0, ""
		}
		return nil, fmt.Sprintf("%s: expected a boolean, got %s", f.name, pyRepr(v))
	case kInt:
		if i, ok := intValue(v); ok {
			return json.Number(strconv.FormatInt(i, 10)), ""
		}
		if s, ok := v.(string); ok {
			if i, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
				return json.Number(strconv.FormatInt(i, 10)), ""
			}
		}
		return nil, fmt.Sprintf("%s: invalid literal for int() with base 10: %s", f.name, pyRepr(v))
	case kDate:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Sprintf("Invalid date format for %s. Use YYYY-MM-DD", f.name)
		}
		if s == "" {
			return nil, ""
		}
		if !strictDate(s) {
			return nil, fmt.Sprintf("Invalid date format for %s. Use YYYY-MM-DD", f.name)
		}
		return s, ""
	case kList:
		if _, ok := v.([]any); !ok {
			return nil, fmt.Sprintf("%s: expected a list, got %s", f.name, pyRepr(v))
		}
	case kObject:
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Sprintf("%s: expected an object, got %s", f.name, pyRepr(v))
		}
	}
	return v, ""
}

// strictDate reports whether s is a valid date written YYYY-MM-DD, as
// Python's strptime(s, '%Y-%m-%d') with four-digit years accepts it.
func strictDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// SamplePatient returns a patient record that passes every check of
// POST /api/platzsuchen (reference-behaviour §4.4) and no constraint of
// composition rules it out on its own: Berlin 10115, born 1990-05-15, open for
// group therapy, no preferences. overrides replace or add keys (a nil value
// stores null).
func SamplePatient(overrides map[string]any) map[string]any {
	p := map[string]any{
		"anrede":                            "Herr",
		"geschlecht":                        "männlich",
		"vorname":                           "Max",
		"nachname":                          "Mustermann",
		"strasse":                           "Invalidenstraße 1",
		"plz":                               "10115",
		"ort":                               "Berlin",
		"email":                             "max.mustermann@example.org",
		"telefon":                           "+49 30 1234567",
		"geburtsdatum":                      "1990-05-15",
		"symptome":                          []any{"Depression / Niedergeschlagenheit", "Schlafstörungen"},
		"krankenkasse":                      "AOK",
		"erfahrung_mit_psychotherapie":      false,
		"offen_fuer_gruppentherapie":        true,
		"zeitliche_verfuegbarkeit":          map[string]any{"montag": []any{"09:00-12:00", "14:00-18:00"}, "mittwoch": []any{"10:00-16:00"}},
		"raeumliche_verfuegbarkeit":         map[string]any{"max_km": 25},
		"verkehrsmittel":                    "Auto",
		"bevorzugtes_therapeutengeschlecht": "Egal",
		"bevorzugtes_therapieverfahren":     "egal",
		"ausgeschlossene_therapeuten":       []any{},
	}
	for k, v := range overrides {
		p[k] = v
	}
	return p
}

// SampleTherapist returns an active therapist record in Berlin 10117 with an
// email address and no preferences; overrides replace or add keys.
func SampleTherapist(overrides map[string]any) map[string]any {
	t := map[string]any{
		"anrede":                      "Frau",
		"titel":                       "Dr.",
		"vorname":                     "Erika",
		"nachname":                    "Musterfrau",
		"strasse":                     "Friedrichstraße 10",
		"plz":                         "10117",
		"ort":                         "Berlin",
		"telefon":                     "+49 30 7654321",
		"email":                       "praxis@musterfrau.example.org",
		"status":                      "aktiv",
		"geschlecht":                  "weiblich",
		"psychotherapieverfahren":     "Verhaltenstherapie",
		"alter_min":                   nil,
		"alter_max":                   nil,
		"geschlechtspraeferenz":       "Egal",
		"bevorzugt_gruppentherapie":   false,
		"potenziell_verfuegbar":       true,
		"ueber_curavani_informiert":   true,
		"naechster_kontakt_moeglich":  nil,
		"bevorzugte_diagnosen":        []any{},
		"telefonische_erreichbarkeit": map[string]any{"montag": []any{"10:00-12:00"}, "donnerstag": []any{"14:00-15:00"}},
	}
	for k, v := range overrides {
		t[k] = v
	}
	return t
}
