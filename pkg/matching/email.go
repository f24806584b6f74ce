package matching

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// EmailSubject is the subject of the email that sends anfrage anfrageID.
func EmailSubject(anfrageID int64) string {
	return fmt.Sprintf("Suche Psychotherapieplätze - Ref: A%d", anfrageID)
}

// RecipientName is "titel vorname nachname" of t, leaving out missing parts
// (the reference wrote a literal "None" for a missing title).
func RecipientName(t Therapist) string {
	return joinNonEmpty(" ", str(t.Titel), str(t.Vorname), str(t.Nachname))
}

// RenderEmail writes the German Markdown body of the email that sends anfrage
// anfrageID with patients to therapist t. It carries, per patient, every
// field the reference's template carried: Patienten-ID, Geschlecht, Alter
// (on today), Symptome, Krankenversicherung, Erfahrung mit Psychotherapie with
// the date of the last session, Offen für Gruppentherapie, and all
// availability slots of each weekday (the reference showed only the first).
// Patients are anonymous: no names, no addresses. A therapist not yet
// informed about Curavani gets a PS explaining it. The communication service
// adds the legal footer.
func RenderEmail(t Therapist, patients []Patient, anfrageID int64, today time.Time) string {
	var b strings.Builder
	b.WriteString(salutation(t) + "\n\n")
	if len(patients) == 1 {
		b.WriteString("wir suchen einen Psychotherapieplatz für eine Person aus Ihrer Umgebung. ")
	} else {
		fmt.Fprintf(&b, "wir suchen Psychotherapieplätze für %d Personen aus Ihrer Umgebung. ", len(patients))
	}
	b.WriteString("Hätten Sie in nächster Zeit einen oder mehrere Plätze frei? Über eine kurze Rückmeldung freuen wir uns sehr.\n\n")
	b.WriteString("Zum Schutz der Daten nennen wir hier keine Namen. Wenn Sie einen Platz anbieten können, " +
		"teilen wir Ihnen die vollständigen Kontaktdaten der jeweiligen Person selbstverständlich mit.\n")

	for i, p := range patients {
		fmt.Fprintf(&b, "\n## Person %d\n\n", i+1)
		field(&b, "Patienten-ID", fmt.Sprint(p.ID))
		field(&b, "Geschlecht", genderText(p.Geschlecht))
		age := "Nicht angegeben"
		if n, ok := Age(str(p.Geburtsdatum), today); ok {
			age = fmt.Sprintf("%d Jahre", n)
		}
		field(&b, "Alter", age)
		symptoms := "Nicht angegeben"
		if names := symptomList(p.Symptome); len(names) > 0 {
			symptoms = strings.Join(names, ", ")
		}
		field(&b, "Symptome", symptoms)
		field(&b, "Krankenversicherung", or(p.Krankenkasse, "Nicht angegeben"))
		field(&b, "Erfahrung mit Psychotherapie", experienceText(p))
		field(&b, "Offen für Gruppentherapie", yesNo(p.OffenFuerGruppentherapie))
		b.WriteString("- **Zeitliche Verfügbarkeit:**")
		if lines := AvailabilityLines(p.ZeitlicheVerfuegbarkeit); len(lines) == 0 {
			b.WriteString(" Nicht angegeben\n")
		} else {
			b.WriteString("\n")
			for _, l := range lines {
				b.WriteString("  - " + l + "\n")
			}
		}
	}

	fmt.Fprintf(&b, "\nBitte geben Sie bei Ihrer Antwort die Referenz A%d an. ", anfrageID)
	b.WriteString("Wenn Sie weitere Informationen benötigen, schreiben Sie uns gern, wir stellen sie Ihnen zur Verfügung.\n\n")
	b.WriteString("Mit freundlichen Grüßen\n\nIhr Curavani-Team\n")
	if !isTrue(t.UeberCuravaniInformiert) {
		b.WriteString("\n**PS:** Curavani unterstützt Patientinnen und Patienten bei der Suche nach einem Psychotherapieplatz. " +
			"Wir übernehmen für sie die Kontaktaufnahme mit Praxen und leiten Ihnen nur Anfragen weiter, " +
			"die zu Ihren Angaben (Verfahren, Altersgruppe, Entfernung) passen. " +
			"Unser Angebot entsteht in Zusammenarbeit mit Hausarztpraxen.\n")
	}
	return b.String()
}

// salutation greets by anrede: Frau and Herr by title and surname, anyone
// else (or a record without surname) with the neutral form.
func salutation(t Therapist) string {
	name := joinNonEmpty(" ", str(t.Titel), str(t.Nachname))
	if strings.TrimSpace(str(t.Nachname)) != "" {
		switch strings.TrimSpace(str(t.Anrede)) {
		case "Frau":
			return "Sehr geehrte Frau " + name + ","
		case "Herr":
			return "Sehr geehrter Herr " + name + ","
		}
	}
	return "Sehr geehrte Damen und Herren,"
}

func field(b *strings.Builder, label, value string) {
	fmt.Fprintf(b, "- **%s:** %s\n", label, value)
}

// genderText shows a patient's geschlecht (männlich, weiblich, divers,
// keine_Angabe) readably.
func genderText(g *string) string {
	switch s := strings.TrimSpace(str(g)); s {
	case "":
		return "Nicht angegeben"
	case "keine_Angabe":
		return "keine Angabe"
	default:
		return s
	}
}

// symptomList reads the symptoms as the letter lists them: a JSON list of
// names, or one string.
func symptomList(raw json.RawMessage) []string {
	var list []any
	if json.Unmarshal(raw, &list) != nil {
		var s string
		if json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != "" {
			return []string{strings.TrimSpace(s)}
		}
		return nil
	}
	var names []string
	for _, e := range list {
		if s := strings.TrimSpace(fmt.Sprint(e)); e != nil && s != "" {
			names = append(names, s)
		}
	}
	return names
}

// LetterPerson is one person as the anfrage letter shows them under
// "## Person N": what a therapist's reply can refer to. It is kept with the
// anfrage when the letter is sent (the shape of the shared reply examples'
// people), so that a reply is read against the letter it answers.
type LetterPerson struct {
	Person    int   `json:"person"`
	PatientID int64 `json:"patient_id"`
	// Geschlecht is the patient record's value (weiblich, männlich, divers,
	// keine_Angabe); empty when it has none.
	Geschlecht string `json:"geschlecht"`
	// Alter is the age in years on the day of the letter; 0 when unknown.
	Alter        int      `json:"alter"`
	Symptome     []string `json:"symptome"`
	Krankenkasse string   `json:"krankenkasse"`
}

// NewLetterPerson is patient p as the letter shows them as Person number,
// with the age on today.
func NewLetterPerson(number int, p Patient, today time.Time) LetterPerson {
	lp := LetterPerson{
		Person: number, PatientID: p.ID,
		Geschlecht:   strings.TrimSpace(str(p.Geschlecht)),
		Symptome:     symptomList(p.Symptome),
		Krankenkasse: strings.TrimSpace(str(p.Krankenkasse)),
	}
	if n, ok := Age(str(p.Geburtsdatum), today); ok {
		lp.Alter = n
	}
	if lp.Symptome == nil {
		lp.Symptome = []string{}
	}
	return lp
}

// LetterPeople are the patients (in position order) as the letter lists
// them: Person 1, 2, … with the ages on today.
func LetterPeople(patients []Patient, today time.Time) []LetterPerson {
	out := make([]LetterPerson, len(patients))
	for i, p := range patients {
		out[i] = NewLetterPerson(i+1, p, today)
	}
	return out
}

// experienceText is Ja or Nein, with the date of the last session when the
// patient has experience and the date is known.
func experienceText(p Patient) string {
	text := yesNo(p.ErfahrungMitPsychotherapie)
	if isTrue(p.ErfahrungMitPsychotherapie) && !blank(p.LetzteSitzungVorherigePsychotherapie) {
		text += " (letzte Sitzung: " + GermanDate(*p.LetzteSitzungVorherigePsychotherapie) + ")"
	}
	return text
}

func yesNo(b *bool) string {
	switch {
	case b == nil:
		return "Nicht angegeben"
	case *b:
		return "Ja"
	}
	return "Nein"
}

var germanMonths = [...]string{"Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober", "November", "Dezember"}

// GermanDate formats an ISO date (YYYY-MM-DD, or a datetime's date part) as
// "DD. Monat YYYY" with the German month name ("05. März 2024"); any other
// text is returned trimmed, as given.
func GermanDate(iso string) string {
	d, ok := parseDate(strings.TrimSpace(iso))
	if !ok {
		return strings.TrimSpace(iso)
	}
	t, _ := time.Parse(time.DateOnly, d)
	return fmt.Sprintf("%02d. %s %d", t.Day(), germanMonths[t.Month()-1], t.Year())
}

// weekdays are the days of an availability object, Monday first, with the
// German and English keys patient records use.
var weekdays = [...]struct{ name, de, en string }{
	{"Montag", "montag", "monday"},
	{"Dienstag", "dienstag", "tuesday"},
	{"Mittwoch", "mittwoch", "wednesday"},
	{"Donnerstag", "donnerstag", "thursday"},
	{"Freitag", "freitag", "friday"},
	{"Samstag", "samstag", "saturday"},
	{"Sonntag", "sonntag", "sunday"},
}

// AvailabilityLines formats a zeitliche_verfuegbarkeit object
// ({"montag": ["09:00-12:00", "14:00-17:00"], …}, German or English day
// names in any case) as one line per weekday that has slots, Monday first,
// with every slot: "Montag: 09:00 - 12:00 Uhr, 14:00 - 17:00 Uhr". It is
// empty when there are no slots.
func AvailabilityLines(raw json.RawMessage) []string {
	var byKey map[string]json.RawMessage
	if json.Unmarshal(raw, &byKey) != nil {
		return nil
	}
	byDay := map[string][]string{}
	for k, v := range byKey {
		var slots []any
		if json.Unmarshal(v, &slots) != nil {
			continue
		}
		key := strings.ToLower(strings.TrimSpace(k))
		for _, s := range slots {
			if text := strings.TrimSpace(fmt.Sprint(s)); s != nil && text != "" {
				byDay[key] = append(byDay[key], slotText(text))
			}
		}
	}
	var lines []string
	for _, d := range weekdays {
		slots := append(byDay[d.de], byDay[d.en]...)
		if len(slots) > 0 {
			lines = append(lines, d.name+": "+strings.Join(slots, ", "))
		}
	}
	return lines
}

// slotText turns "09:00-12:00" into "09:00 - 12:00 Uhr"; other text stays.
func slotText(s string) string {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return s
	}
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !isClock(from) || !isClock(to) {
		return s
	}
	return from + " - " + to + " Uhr"
}

func isClock(s string) bool {
	_, err := time.Parse("15:04", s)
	if err != nil {
		_, err = time.Parse("15:04:05", s)
	}
	return err == nil
}

func joinNonEmpty(sep string, parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, sep)
}
