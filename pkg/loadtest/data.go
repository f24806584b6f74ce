package loadtest

import (
	"fmt"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

// Data is who the clients ask for: patients that may start a search,
// therapists anfragen may be composed for, and the PLZ prefix they share.
type Data struct {
	Patients   []int64
	Therapists []int64
	PLZPrefix  string
}

// Populate adds patients and therapists to the fake neighbour services, all
// in Berlin 101xx–103xx (within each other's travel distance at the fake
// geocoder's 0.1 km per PLZ step), men and women, half of the therapists
// without a gender preference, and returns their ids. Their names are
// made up and numbered.
func Populate(f *fake.Fake, patients, therapists int) Data {
	d := Data{PLZPrefix: "10"}
	for i := range patients {
		sex, anrede := "männlich", "Herr"
		if i%2 == 1 {
			sex, anrede = "weiblich", "Frau"
		}
		d.Patients = append(d.Patients, f.AddPatient(fake.SamplePatient(map[string]any{
			"vorname": "Last", "nachname": fmt.Sprintf("Patient%d", i), "geschlecht": sex, "anrede": anrede,
			"plz": fmt.Sprintf("10%03d", 100+i%250), "email": fmt.Sprintf("last.patient%d@example.org", i),
		})))
	}
	for i := range therapists {
		pref := "Egal"
		if i%4 == 3 {
			pref = "Weiblich"
		}
		d.Therapists = append(d.Therapists, f.AddTherapist(fake.SampleTherapist(map[string]any{
			"vorname": "Last", "nachname": fmt.Sprintf("Therapeut%d", i), "geschlechtspraeferenz": pref,
			"plz": fmt.Sprintf("10%03d", 100+(i*7)%250), "email": fmt.Sprintf("praxis%d@example.org", i),
		})))
	}
	return d
}
