package matching_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/matching"
)

func TestEmailSubject_carriesTheReference(t *testing.T) {
	if got := matching.EmailSubject(42); got != "Suche Psychotherapieplätze - Ref: A42" {
		t.Errorf("EmailSubject = %q", got)
	}
}

func TestRecipientName_leavesOutMissingParts(t *testing.T) {
	cases := map[string]struct {
		titel, vorname, nachname *string
		want                     string
	}{
		"all parts":     {sp("Dr."), sp("Max"), sp("Mustermann"), "Dr. Max Mustermann"},
		"no title":      {nil, sp("Max"), sp("Mustermann"), "Max Mustermann"},
		"blank title":   {sp(" "), sp("Max"), sp("Mustermann"), "Max Mustermann"},
		"only nachname": {nil, nil, sp("Mustermann"), "Mustermann"},
		"spaces":        {sp("Prof. "), sp(" Eva"), sp("Roth "), "Prof. Eva Roth"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := matching.RecipientName(matching.Therapist{Titel: c.titel, Vorname: c.vorname, Nachname: c.nachname})
			if got != c.want {
				t.Errorf("RecipientName = %q, want %q", got, c.want)
			}
		})
	}
}

func TestRenderEmail_carriesEveryPatientField(t *testing.T) {
	first := patient(101)
	first.ErfahrungMitPsychotherapie = bp(true)
	first.LetzteSitzungVorherigePsychotherapie = sp("2024-03-05")
	second := patient(102)
	second.Geschlecht = sp("keine_Angabe")
	second.Geburtsdatum = sp("2000-08-12") // 24, birthday tomorrow
	second.Symptome = json.RawMessage(`["Schlafstörungen"]`)
	second.Krankenkasse = sp("Techniker Krankenkasse")
	second.OffenFuerGruppentherapie = bp(false)
	second.ZeitlicheVerfuegbarkeit = json.RawMessage(`{"Friday": ["08:00-10:00"], "monday": ["18:00-20:00", "07:00-08:00"], "sonntag": []}`)
	body := matching.RenderEmail(therapist(1), []matching.Patient{first, second}, 42, testToday)

	for _, want := range []string{
		"Sehr geehrter Herr Dr. Mustermann,",
		"für 2 Personen",
		"## Person 1",
		"- **Patienten-ID:** 101\n",
		"- **Geschlecht:** weiblich\n",
		"- **Alter:** 35 Jahre\n",
		"- **Symptome:** Depression / Niedergeschlagenheit, Ängste / Panikattacken\n",
		"- **Krankenversicherung:** AOK\n",
		"- **Erfahrung mit Psychotherapie:** Ja (letzte Sitzung: 05. März 2024)\n",
		"- **Offen für Gruppentherapie:** Ja\n",
		"- **Zeitliche Verfügbarkeit:**\n  - Montag: 09:00 - 12:00 Uhr, 14:00 - 17:00 Uhr\n  - Mittwoch: 10:00 - 12:00 Uhr\n",
		"## Person 2",
		"- **Patienten-ID:** 102\n",
		"- **Geschlecht:** keine Angabe\n",
		"- **Alter:** 24 Jahre\n",
		"- **Symptome:** Schlafstörungen\n",
		"- **Krankenversicherung:** Techniker Krankenkasse\n",
		"- **Erfahrung mit Psychotherapie:** Nein\n",
		"- **Offen für Gruppentherapie:** Nein\n",
		"  - Montag: 18:00 - 20:00 Uhr, 07:00 - 08:00 Uhr\n  - Freitag: 08:00 - 10:00 Uhr\n",
		"Referenz A42",
		"**PS:** Curavani",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	for _, unwanted := range []string{"Anna", "Beispiel", "Hauptstraße", "None", "Sonntag"} {
		if strings.Contains(body, unwanted) {
			t.Errorf("body contains %q:\n%s", unwanted, body)
		}
	}
	if strings.Index(body, "## Person 1") > strings.Index(body, "## Person 2") {
		t.Error("patients out of order")
	}
}

func TestRenderEmail_salutationAndPS(t *testing.T) {
	cases := map[string]struct {
		change   func(*matching.Therapist)
		greeting string
		ps       bool
	}{
		"Herr with title": {func(t *matching.Therapist) {}, "Sehr geehrter Herr Dr. Mustermann,", true},
		"Frau without title, informed": {func(t *matching.Therapist) {
			t.Anrede, t.Titel, t.Nachname, t.UeberCuravaniInformiert = sp("Frau"), nil, sp("Roth"), bp(true)
		}, "Sehr geehrte Frau Roth,", false},
		"no anrede":        {func(t *matching.Therapist) { t.Anrede = nil }, "Sehr geehrte Damen und Herren,", true},
		"divers anrede":    {func(t *matching.Therapist) { t.Anrede = sp("Divers") }, "Sehr geehrte Damen und Herren,", true},
		"Frau, no surname": {func(t *matching.Therapist) { t.Anrede, t.Nachname = sp("Frau"), nil }, "Sehr geehrte Damen und Herren,", true},
		"not informed":     {func(t *matching.Therapist) { t.UeberCuravaniInformiert = bp(false) }, "Sehr geehrter Herr Dr. Mustermann,", true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			th := therapist(1)
			c.change(&th)
			body := matching.RenderEmail(th, []matching.Patient{patient(5)}, 7, testToday)
			if !strings.HasPrefix(body, c.greeting+"\n\n") {
				t.Errorf("body starts %q, want %q", body[:min(len(body), 60)], c.greeting)
			}
			if got := strings.Contains(body, "**PS:**"); got != c.ps {
				t.Errorf("PS present %v, want %v", got, c.ps)
			}
			if !strings.Contains(body, "für eine Person") {
				t.Error("singular intro missing")
			}
		})
	}
}

func TestRenderEmail_missingDataSaysNichtAngegeben(t *testing.T) {
	p := matching.Patient{ID: 9, ErfahrungMitPsychotherapie: bp(true)} // no session date known
	body := matching.RenderEmail(therapist(1), []matching.Patient{p}, 1, testToday)
	for _, want := range []string{
		"- **Geschlecht:** Nicht angegeben\n",
		"- **Alter:** Nicht angegeben\n",
		"- **Symptome:** Nicht angegeben\n",
		"- **Krankenversicherung:** Nicht angegeben\n",
		"- **Erfahrung mit Psychotherapie:** Ja\n",
		"- **Offen für Gruppentherapie:** Nicht angegeben\n",
		"- **Zeitliche Verfügbarkeit:** Nicht angegeben\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}

func TestAvailabilityLines_everySlotMondayFirst(t *testing.T) {
	cases := map[string]struct {
		raw  string
		want []string
	}{
		"german keys": {`{"dienstag": ["10:00-12:00"], "montag": ["08:00-09:00", "13:00 - 14:30"]}`,
			[]string{"Montag: 08:00 - 09:00 Uhr, 13:00 - 14:30 Uhr", "Dienstag: 10:00 - 12:00 Uhr"}},
		"english keys, any case": {`{"SUNDAY": ["09:00-10:00"], "Saturday": ["11:00-12:00"]}`,
			[]string{"Samstag: 11:00 - 12:00 Uhr", "Sonntag: 09:00 - 10:00 Uhr"}},
		"free text kept":                       {`{"freitag": ["vormittags"]}`, []string{"Freitag: vormittags"}},
		"blank slots and unknown keys ignored": {`{"montag": ["", " "], "feiertag": ["10:00-11:00"]}`, nil},
		"null":                                 {`null`, nil},
		"not an object":                        {`["09:00-10:00"]`, nil},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got := matching.AvailabilityLines(json.RawMessage(c.raw))
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestGermanDate(t *testing.T) {
	cases := map[string]string{
		"2024-03-05":          "05. März 2024",
		"2023-12-24":          "24. Dezember 2023",
		"2023-01-01T10:00:00": "01. Januar 2023",
		"letztes Jahr":        "letztes Jahr",
	}
	for in, want := range cases {
		if got := matching.GermanDate(in); got != want {
			t.Errorf("GermanDate(%q) = %q, want %q", in, got, want)
		}
	}
}

// The people kept for reading a reply are the people the letter shows: the
// same Person numbers, Patienten-IDs, ages and symptoms.
func TestLetterPeople_areWhatTheLetterShows(t *testing.T) {
	g, birth, kasse := "weiblich", "1990-08-12", "TK"
	patients := []matching.Patient{
		{ID: 17, Geschlecht: &g, Geburtsdatum: &birth, Krankenkasse: &kasse, Symptome: json.RawMessage(`["Depression", " Schlafstörungen "]`)},
		{ID: 4, Symptome: json.RawMessage(`"Burnout"`)},
	}
	today := time.Date(2025, 8, 11, 12, 0, 0, 0, time.UTC)
	got := matching.LetterPeople(patients, today)
	want := []matching.LetterPerson{
		{Person: 1, PatientID: 17, Geschlecht: "weiblich", Alter: 34, Symptome: []string{"Depression", "Schlafstörungen"}, Krankenkasse: "TK"},
		{Person: 2, PatientID: 4, Symptome: []string{"Burnout"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	letter := matching.RenderEmail(matching.Therapist{}, patients, 9, today)
	for _, line := range []string{
		"## Person 1\n\n- **Patienten-ID:** 17\n- **Geschlecht:** weiblich\n- **Alter:** 34 Jahre\n- **Symptome:** Depression, Schlafstörungen\n- **Krankenversicherung:** TK\n",
		"## Person 2\n\n- **Patienten-ID:** 4\n- **Geschlecht:** Nicht angegeben\n- **Alter:** Nicht angegeben\n- **Symptome:** Burnout\n",
	} {
		if !strings.Contains(letter, line) {
			t.Errorf("the letter does not show %q:\n%s", line, letter)
		}
	}
}
