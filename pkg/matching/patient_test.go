package matching_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
)

func TestValidatePatientForSearch_namesTheFirstMissingField(t *testing.T) {
	cases := map[string]struct {
		change func(p *matching.Patient)
		want   string // "" = valid
	}{
		"complete record":                     {func(p *matching.Patient) {}, ""},
		"geschlecht null":                     {func(p *matching.Patient) { p.Geschlecht = nil }, "Patient field 'geschlecht' is required and cannot be empty"},
		"geschlecht blank":                    {func(p *matching.Patient) { p.Geschlecht = sp("  ") }, "Patient field 'geschlecht' is required and cannot be empty"},
		"geschlecht checked before symptome":  {func(p *matching.Patient) { p.Geschlecht = nil; p.Symptome = nil }, "Patient field 'geschlecht' is required and cannot be empty"},
		"symptome absent":                     {func(p *matching.Patient) { p.Symptome = nil }, "Patient field 'symptome' is required and cannot be empty"},
		"symptome null":                       {func(p *matching.Patient) { p.Symptome = json.RawMessage(`null`) }, "Patient field 'symptome' is required and cannot be empty"},
		"symptome empty list (reference gap)": {func(p *matching.Patient) { p.Symptome = json.RawMessage(`[]`) }, "Patient field 'symptome' is required and cannot be empty"},
		"symptome only blank entries":         {func(p *matching.Patient) { p.Symptome = json.RawMessage(`["", " "]`) }, "Patient field 'symptome' is required and cannot be empty"},
		"symptome blank string":               {func(p *matching.Patient) { p.Symptome = json.RawMessage(`" "`) }, "Patient field 'symptome' is required and cannot be empty"},
		"symptome as a text":                  {func(p *matching.Patient) { p.Symptome = json.RawMessage(`"Schlafstörungen"`) }, ""},
		"krankenkasse missing":                {func(p *matching.Patient) { p.Krankenkasse = sp("") }, "Patient field 'krankenkasse' is required and cannot be empty"},
		"geburtsdatum missing":                {func(p *matching.Patient) { p.Geburtsdatum = nil }, "Patient field 'geburtsdatum' is required and cannot be empty"},
		"erfahrung not set":                   {func(p *matching.Patient) { p.ErfahrungMitPsychotherapie = nil }, "Patient field 'erfahrung_mit_psychotherapie' must be explicitly set (true/false)"},
		"gruppentherapie not set":             {func(p *matching.Patient) { p.OffenFuerGruppentherapie = nil }, "Patient field 'offen_fuer_gruppentherapie' must be explicitly set (true/false)"},
		"gruppentherapie false is set":        {func(p *matching.Patient) { p.OffenFuerGruppentherapie = bp(false) }, ""},
		"verfuegbarkeit absent":               {func(p *matching.Patient) { p.ZeitlicheVerfuegbarkeit = nil }, "Patient must have 'zeitliche_verfuegbarkeit' with at least one day/time"},
		"verfuegbarkeit empty object":         {func(p *matching.Patient) { p.ZeitlicheVerfuegbarkeit = json.RawMessage(`{}`) }, "Patient must have 'zeitliche_verfuegbarkeit' with at least one day/time"},
		"verfuegbarkeit a list":               {func(p *matching.Patient) { p.ZeitlicheVerfuegbarkeit = json.RawMessage(`["09:00-12:00"]`) }, "Patient must have 'zeitliche_verfuegbarkeit' with at least one day/time"},
		"verfuegbarkeit without slots": {func(p *matching.Patient) {
			p.ZeitlicheVerfuegbarkeit = json.RawMessage(`{"montag":[],"dienstag":[""," "],"mittwoch":null,"donnerstag":"09:00-10:00"}`)
		}, "Patient must have at least one valid time slot in 'zeitliche_verfuegbarkeit'"},
		"one slot is enough": {func(p *matching.Patient) {
			p.ZeitlicheVerfuegbarkeit = json.RawMessage(`{"montag":[],"freitag":["08:00-09:00"]}`)
		}, ""},
		"experience without last session": {func(p *matching.Patient) {
			p.ErfahrungMitPsychotherapie = bp(true)
			p.LetzteSitzungVorherigePsychotherapie = sp(" ")
		}, "Field 'letzte_sitzung_vorherige_psychotherapie' is required when 'erfahrung_mit_psychotherapie' is true"},
		"experience with last session": {func(p *matching.Patient) {
			p.ErfahrungMitPsychotherapie = bp(true)
			p.LetzteSitzungVorherigePsychotherapie = sp("2024-03-05")
		}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			p := patient(1)
			c.change(&p)
			err := matching.ValidatePatientForSearch(p)
			if c.want == "" {
				if err != nil {
					t.Fatalf("got %v, want valid", err)
				}
				return
			}
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.Invalid || fe.Message != c.want {
				t.Fatalf("got %v, want Invalid %q", err, c.want)
			}
		})
	}
}

func TestAge_countsWholeYearsOnToday(t *testing.T) {
	cases := map[string]struct {
		birth  string
		want   int
		wantOK bool
	}{
		"birthday today":             {"1990-08-11", 35, true},
		"birthday tomorrow":          {"1990-08-12", 34, true},
		"birthday yesterday":         {"1990-08-10", 35, true},
		"earlier month":              {"1990-01-31", 35, true},
		"later month":                {"1990-12-01", 34, true},
		"datetime":                   {"1990-08-11T00:00:00", 35, true},
		"leap day before 1 March":    {"2004-02-29", 21, true},
		"not a date":                 {"11.08.1990", 0, false},
		"empty":                      {"", 0, false},
		"impossible date":            {"1990-02-30", 0, false},
		"trailing junk after a date": {"1990-08-11x", 0, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := matching.Age(c.birth, testToday)
			if got != c.want || ok != c.wantOK {
				t.Errorf("Age(%q) = %d, %v; want %d, %v", c.birth, got, ok, c.want, c.wantOK)
			}
		})
	}
	// A leap-day child turns older on 1 March in a common year.
	feb28 := time.Date(2025, 2, 28, 12, 0, 0, 0, berlin)
	if got, _ := matching.Age("2004-02-29", feb28); got != 20 {
		t.Errorf("on %s: %d, want 20", feb28.Format("2006-01-02"), got)
	}
}
