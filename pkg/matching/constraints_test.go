package matching_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/curavani/matching/pkg/matching"
)

const (
	patientAddress   = "Hauptstraße 1, 52062, Aachen"
	therapistAddress = "Marktplatz 2, 52064, Aachen"
)

// TestCheckConstraints_matrix runs every hard constraint with both outcomes
// from a pair that passes (patient(), therapist(), 10 km apart, max_km 25).
func TestCheckConstraints_matrix(t *testing.T) {
	type pair struct {
		p *matching.Patient
		t *matching.Therapist
	}
	cases := map[string]struct {
		change   func(x pair)
		km       float64 // distance the geocoder answers; 0 = 10
		searchEx string
		pass     bool
	}{
		"baseline": {change: func(x pair) {}, pass: true},

		// Procedure (patient preference).
		"procedure wanted and offered": {change: func(x pair) { x.p.BevorzugtesTherapieverfahren = sp("Verhaltenstherapie") }, pass: true},
		"procedure wanted, other one":  {change: func(x pair) { x.p.BevorzugtesTherapieverfahren = sp("tiefenpsychologisch_fundierte_Psychotherapie") }, pass: false},
		"procedure wanted, therapist egal": {change: func(x pair) {
			x.p.BevorzugtesTherapieverfahren = sp("Verhaltenstherapie")
			x.t.Psychotherapieverfahren = sp("egal")
		}, pass: false},
		"procedure wanted, therapist none": {change: func(x pair) {
			x.p.BevorzugtesTherapieverfahren = sp("Verhaltenstherapie")
			x.t.Psychotherapieverfahren = nil
		}, pass: false},
		"procedure egal":  {change: func(x pair) { x.p.BevorzugtesTherapieverfahren = sp("egal"); x.t.Psychotherapieverfahren = nil }, pass: true},
		"procedure empty": {change: func(x pair) { x.p.BevorzugtesTherapieverfahren = sp(""); x.t.Psychotherapieverfahren = sp("x") }, pass: true},

		// Gender, patient's preference for the therapist.
		"patient wants Männlich, therapist männlich": {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Männlich") }, pass: true},
		"patient wants Weiblich, therapist männlich": {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Weiblich") }, pass: false},
		"patient wants Weiblich, therapist weiblich": {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Weiblich"); x.t.Geschlecht = sp("weiblich") }, pass: true},
		"patient wants Weiblich, therapist divers":   {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Weiblich"); x.t.Geschlecht = sp("divers") }, pass: false},
		"patient wants Männlich, therapist keine_Angabe": {change: func(x pair) {
			x.p.BevorzugtesTherapeutengeschlecht = sp("Männlich")
			x.t.Geschlecht = sp("keine_Angabe")
		}, pass: false},
		"patient wants Männlich, therapist unknown": {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Männlich"); x.t.Geschlecht = nil }, pass: false},
		"patient says Egal, therapist divers":       {change: func(x pair) { x.p.BevorzugtesTherapeutengeschlecht = sp("Egal"); x.t.Geschlecht = sp("divers") }, pass: true},

		// Gender, therapist's preference for the patient.
		"therapist wants Weiblich, patient weiblich":     {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("Weiblich") }, pass: true},
		"therapist wants Männlich, patient weiblich":     {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("Männlich") }, pass: false},
		"therapist wants Weiblich, patient divers":       {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("Weiblich"); x.p.Geschlecht = sp("divers") }, pass: false},
		"therapist wants Weiblich, patient keine_Angabe": {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("Weiblich"); x.p.Geschlecht = sp("keine_Angabe") }, pass: false},
		"therapist says Egal, patient divers":            {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("Egal"); x.p.Geschlecht = sp("divers") }, pass: true},
		"therapist free text in lower case":              {change: func(x pair) { x.t.Geschlechtspraeferenz = sp("weiblich ") }, pass: true},

		// Age (patient is 35 on testToday; birthday 15 March).
		"age at the lower bound":     {change: func(x pair) { x.t.AlterMin = ip(35) }, pass: true},
		"age below the lower bound":  {change: func(x pair) { x.t.AlterMin = ip(36) }, pass: false},
		"age at the upper bound":     {change: func(x pair) { x.t.AlterMax = ip(35) }, pass: true},
		"age above the upper bound":  {change: func(x pair) { x.t.AlterMax = ip(34) }, pass: false},
		"age inside both bounds":     {change: func(x pair) { x.t.AlterMin = ip(18); x.t.AlterMax = ip(65) }, pass: true},
		"bounds 0 are unset":         {change: func(x pair) { x.t.AlterMin = ip(0); x.t.AlterMax = ip(0); x.p.Geburtsdatum = nil }, pass: true},
		"min 0 with max set":         {change: func(x pair) { x.t.AlterMin = ip(0); x.t.AlterMax = ip(30) }, pass: false},
		"bound set, no birth date":   {change: func(x pair) { x.t.AlterMin = ip(18); x.p.Geburtsdatum = nil }, pass: false},
		"bound set, bad birth date":  {change: func(x pair) { x.t.AlterMax = ip(99); x.p.Geburtsdatum = sp("15.03.1990") }, pass: false},
		"no bounds, no birth date":   {change: func(x pair) { x.p.Geburtsdatum = nil }, pass: true},
		"birthday not yet this year": {change: func(x pair) { x.t.AlterMin = ip(35); x.p.Geburtsdatum = sp("1990-08-12") }, pass: false},

		// Group therapy (therapist side only).
		"group wanted, patient open":       {change: func(x pair) { x.t.BevorzugtGruppentherapie = bp(true) }, pass: true},
		"group wanted, patient not open":   {change: func(x pair) { x.t.BevorzugtGruppentherapie = bp(true); x.p.OffenFuerGruppentherapie = bp(false) }, pass: false},
		"group wanted, patient unknown":    {change: func(x pair) { x.t.BevorzugtGruppentherapie = bp(true); x.p.OffenFuerGruppentherapie = nil }, pass: false},
		"group not wanted, patient closed": {change: func(x pair) { x.t.BevorzugtGruppentherapie = bp(false); x.p.OffenFuerGruppentherapie = bp(false) }, pass: true},

		// Distance.
		"inside max_km":                  {change: func(x pair) {}, km: 24.9, pass: true},
		"exactly max_km":                 {change: func(x pair) {}, km: 25, pass: true},
		"outside max_km":                 {change: func(x pair) {}, km: 25.1, pass: false},
		"own max_km larger":              {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": 40}`) }, km: 39, pass: true},
		"own max_km smaller":             {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": 5.5}`) }, km: 6, pass: false},
		"null max_km is the default":     {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": null}`) }, km: 26, pass: false},
		"null max_km, inside default":    {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": null}`) }, km: 25, pass: true},
		"absent max_km is the default":   {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{}`) }, km: 26, pass: false},
		"null raeumliche is the default": {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`null`) }, km: 26, pass: false},
		"text max_km is the default":     {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": "weit"}`) }, km: 26, pass: false},
		"numeric text max_km counts":     {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": "30"}`) }, km: 26, pass: true},
		"NaN max_km is the default":      {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": "NaN"}`) }, km: 26, pass: false},
		"negative max_km is the default": {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": -3}`) }, km: 20, pass: true},
		"zero max_km is the default":     {change: func(x pair) { x.p.RaeumlicheVerfuegbarkeit = json.RawMessage(`{"max_km": 0}`) }, km: 20, pass: true},

		// Exclusions.
		"search excludes as integer":     {change: func(x pair) {}, searchEx: `[5, 1]`, pass: false},
		"search excludes as object":      {change: func(x pair) {}, searchEx: `[{"id": 1, "excluded_at": "2025-06-15T10:11:12", "reason": "r"}]`, pass: false},
		"search excludes someone else":   {change: func(x pair) {}, searchEx: `[5, {"id": 6}]`, pass: true},
		"patient excludes as integer":    {change: func(x pair) { x.p.AusgeschlosseneTherapeuten = json.RawMessage(`[1]`) }, pass: false},
		"patient excludes as object":     {change: func(x pair) { x.p.AusgeschlosseneTherapeuten = json.RawMessage(`[{"id": 1}]`) }, pass: false},
		"patient excludes someone else":  {change: func(x pair) { x.p.AusgeschlosseneTherapeuten = json.RawMessage(`[2]`) }, pass: true},
		"patient exclusion list is null": {change: func(x pair) { x.p.AusgeschlosseneTherapeuten = json.RawMessage(`null`) }, pass: true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p, th := patient(100), therapist(1)
			c.change(pair{&p, &th})
			km := c.km
			if km == 0 {
				km = 10
			}
			// The geocoder answers km for the pair.
			d := matching.Distance{KM: km, Known: true}
			ok, reason := matching.CheckConstraints(p, th, json.RawMessage(c.searchEx), d, 25, testToday)
			if ok != c.pass {
				t.Errorf("ok = %v (%s), want %v", ok, reason, c.pass)
			}
			if !ok && reason == "" {
				t.Error("failure without a reason")
			}
		})
	}
}

// TestTripBetween_addressesAndTravelMode is the query the geocoding
// service gets for a pair.
func TestTripBetween_addressesAndTravelMode(t *testing.T) {
	cases := map[string]struct {
		verkehrsmittel *string
		mode           string
	}{
		"Auto is car":           {sp("Auto"), "car"},
		"ÖPNV is transit":       {sp("ÖPNV"), "transit"},
		"öpnv is transit":       {sp("öpnv"), "transit"},
		"transit stays":         {sp("transit"), "transit"},
		"Fahrrad is car":        {sp("Fahrrad"), "car"},
		"no means is car":       {nil, "car"},
		"car stays, any casing": {sp("CAR"), "car"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := patient(100)
			p.Verkehrsmittel = c.verkehrsmittel
			trip, ok := matching.TripBetween(p, therapist(1))
			want := matching.Trip{From: patientAddress, To: therapistAddress, Mode: c.mode}
			if !ok || trip != want {
				t.Errorf("trip %+v (%v), want %+v", trip, ok, want)
			}
		})
	}
	// The address leaves out empty parts.
	p, th := patient(100), therapist(1)
	p.Strasse, th.PLZ = nil, sp(" ")
	if trip, _ := matching.TripBetween(p, th); trip.From != "52062, Aachen" || trip.To != "Marktplatz 2, Aachen" {
		t.Errorf("addresses %q, %q", trip.From, trip.To)
	}
}

// TestCheckConstraints_unknownDistancePasses: no trip (an address without
// ort) or no distance from the geocoder passes the distance rule; a
// distance that is too far is the reason even when the therapist is also
// excluded.
func TestCheckConstraints_unknownDistancePasses(t *testing.T) {
	p, th := patient(100), therapist(1)
	p.Ort = sp("")
	if _, ok := matching.TripBetween(p, th); ok {
		t.Error("a trip from a patient without ort")
	}
	th.Ort = nil
	if _, ok := matching.TripBetween(patient(100), th); ok {
		t.Error("a trip to a therapist without ort")
	}
	if ok, reason := matching.CheckConstraints(patient(100), therapist(1), nil, matching.Distance{}, 25, testToday); !ok {
		t.Errorf("unknown distance fails: %s", reason)
	}
	ok, reason := matching.CheckConstraints(patient(100), therapist(1), json.RawMessage(`[1]`), matching.Distance{KM: 100, Known: true}, 25, testToday)
	if ok || !strings.Contains(reason, "distance") {
		t.Errorf("ok %v, reason %q", ok, reason)
	}
}
