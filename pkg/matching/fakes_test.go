package matching_test

import (
	"encoding/json"
	"time"

	"github.com/curavani/matching/pkg/matching"
)

func sp(s string) *string { return &s }
func bp(b bool) *bool     { return &b }
func ip(n int) *int       { return &n }

// patient returns a complete patient record that any therapist from
// therapist() accepts: 35 years old on testToday, open to group therapy,
// living in 52062 Aachen.
func patient(id int64) matching.Patient {
	return matching.Patient{
		ID:                         id,
		Strasse:                    sp("Hauptstraße 1"),
		PLZ:                        sp("52062"),
		Ort:                        sp("Aachen"),
		Geschlecht:                 sp("weiblich"),
		Geburtsdatum:               sp("1990-03-15"),
		Symptome:                   json.RawMessage(`["Depression / Niedergeschlagenheit","Ängste / Panikattacken"]`),
		Krankenkasse:               sp("AOK"),
		ErfahrungMitPsychotherapie: bp(false),
		OffenFuerGruppentherapie:   bp(true),
		ZeitlicheVerfuegbarkeit:    json.RawMessage(`{"montag":["09:00-12:00","14:00-17:00"],"mittwoch":["10:00-12:00"]}`),
		RaeumlicheVerfuegbarkeit:   json.RawMessage(`{"max_km":25}`),
		Verkehrsmittel:             sp("Auto"),
		AusgeschlosseneTherapeuten: json.RawMessage(`[]`),
	}
}

// therapist returns a therapist without preferences in 52064 Aachen.
func therapist(id int64) matching.Therapist {
	return matching.Therapist{
		ID:                      id,
		Anrede:                  sp("Herr"),
		Titel:                   sp("Dr."),
		Vorname:                 sp("Max"),
		Nachname:                sp("Mustermann"),
		Strasse:                 sp("Marktplatz 2"),
		PLZ:                     sp("52064"),
		Ort:                     sp("Aachen"),
		Email:                   sp("praxis@mustermann.de"),
		Status:                  sp("aktiv"),
		Geschlecht:              sp("männlich"),
		Psychotherapieverfahren: sp("Verhaltenstherapie"),
	}
}

// testToday is 2025-08-11 10:00 in Berlin.
var testToday = time.Date(2025, 8, 11, 10, 0, 0, 0, berlin)

var berlin = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		panic(err)
	}
	return loc
}()
