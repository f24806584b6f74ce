package fake

import (
	"net/http"
	"strings"
)

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

var therapistStatuses = []string{"aktiv", "gesperrt", "inaktiv"}

// AddTherapist stores a therapist record as AddPatient does; status defaults
// to aktiv and psychotherapieverfahren to egal.
func (f *Fake) AddTherapist(v any) int64 {
	return f.add(v, "therapist", into(f.therapists), therapistFields, dateStamp)
}

// Therapist returns the stored therapist record, or false.
func (f *Fake) Therapist(id int64) (map[string]any, bool) { return f.get(f.therapists, id) }

// SetTherapistFields merges fields into a stored therapist.
func (f *Fake) SetTherapistFields(id int64, fields map[string]any) bool {
	return f.merge(f.therapists, id, fields)
}

// RemoveTherapist deletes a therapist.
func (f *Fake) RemoveTherapist(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.therapists, id)
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

// therapistRoutes registers the endpoints of the therapist service.
func (f *Fake) therapistRoutes(route routeFunc) {
	route(CreateTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.announceTherapist("therapist.created", f.createPerson(w, r, "therapist", f.therapists, therapistFields, therapistStatuses))
	})
	route(ListTherapists, TherapistService, f.listTherapists)
	route(GetTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.therapists, "Therapist not found")
	})
	route(UpdateTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.announceTherapist("therapist.updated", f.updatePerson(w, r, f.therapists, therapistFields, therapistStatuses, "Therapist not found"))
	})
	route(DeleteTherapist, TherapistService, func(w http.ResponseWriter, r *http.Request) {
		f.deleteOne(w, r, f.therapists, "Therapist not found", "Therapist deleted successfully")
	})
}

// listTherapists serves GET /api/therapists with the filters status,
// plz_prefix and potenziell_verfuegbar, ordered by id.
func (f *Fake) listTherapists(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status, prefix := q.Get("status"), q.Get("plz_prefix")
	f.mu.Lock()
	defer f.mu.Unlock()
	var recs []*record
	for _, id := range sortedIDs(f.therapists) {
		rec := f.therapists[id]
		if status != "" && rec.str("status") != status {
			continue
		}
		if prefix != "" && !strings.HasPrefix(rec.str("plz"), prefix) {
			continue
		}
		if pv := q.Get("potenziell_verfuegbar"); pv != "" {
			b, _ := rec.m["potenziell_verfuegbar"].(bool)
			if b != (pv == "true" || pv == "1") {
				continue
			}
		}
		recs = append(recs, rec)
	}
	f.writeList(w, q, recs)
}
