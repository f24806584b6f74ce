package fake

import "net/http"

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

// AddPatient stores a patient record as given and returns its id. v is
// anything that marshals to a JSON object: a map, a neighbours.Patient, raw
// JSON ([]byte, string, json.RawMessage). An "id" above 0 is kept (replacing a
// record with that id); otherwise the next free id is assigned. Unlike
// POST /api/patients nothing is validated, so tests can store malformed data.
// Known fields that are missing are stored as null. It panics if v is not a
// JSON object.
func (f *Fake) AddPatient(v any) int64 {
	return f.add(v, "patient", into(f.patients), patientFields, dateStamp)
}

// Patient returns the stored patient record, or false.
func (f *Fake) Patient(id int64) (map[string]any, bool) { return f.get(f.patients, id) }

// SetPatientFields merges fields into a stored patient (a null value stores
// null) and reports whether the patient exists.
func (f *Fake) SetPatientFields(id int64, fields map[string]any) bool {
	return f.merge(f.patients, id, fields)
}

// RemovePatient deletes a patient, as the patient service does on DELETE.
func (f *Fake) RemovePatient(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.patients, id)
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

// patientRoutes registers the endpoints of the patient service.
func (f *Fake) patientRoutes(route routeFunc) {
	route(CreatePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.announcePatient("patient.created", f.createPerson(w, r, "patient", f.patients, patientFields, nil))
	})
	route(GetPatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.getOne(w, r, f.patients, "Patient not found")
	})
	route(UpdatePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.announcePatient("patient.updated", f.updatePerson(w, r, f.patients, patientFields, nil, "Patient not found"))
	})
	route(DeletePatient, PatientService, func(w http.ResponseWriter, r *http.Request) {
		f.announcePatient("patient.deleted", f.deleteOne(w, r, f.patients, "Patient not found", "Patient deleted successfully"))
	})
}
