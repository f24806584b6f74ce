package replies_test

import (
	"strings"
	"testing"

	"github.com/curavani/matching/pkg/replies"
)

// Tests of what must never happen: an outcome guessed for someone the reply
// does not speak about, quoted text or a signature read as the answer, an
// automatic reply applied.

// three is an anfrage of three people.
var three = []replies.Person{
	{Number: 1, PatientID: 501, Geschlecht: "weiblich", Alter: 34, Symptome: []string{"Depression"}, Krankenkasse: "TK"},
	{Number: 2, PatientID: 502, Geschlecht: "männlich", Alter: 22, Symptome: []string{"Panikattacken"}, Krankenkasse: "AOK"},
	{Number: 3, PatientID: 503, Geschlecht: "weiblich", Alter: 58, Symptome: []string{"Trauer", "Schlafstörungen"}, Krankenkasse: "privat"},
}

// letter is our anfrage letter for three, as pkg/matching renders it.
const letter = `Sehr geehrte Frau Dr. Roth,

wir suchen Psychotherapieplätze für 3 Personen aus Ihrer Umgebung. Hätten Sie in nächster Zeit einen oder mehrere Plätze frei? Über eine kurze Rückmeldung freuen wir uns sehr.

Zum Schutz der Daten nennen wir hier keine Namen. Wenn Sie einen Platz anbieten können, teilen wir Ihnen die vollständigen Kontaktdaten der jeweiligen Person selbstverständlich mit.

## Person 1

- **Patienten-ID:** 501
- **Geschlecht:** weiblich
- **Alter:** 34 Jahre
- **Symptome:** Depression

## Person 2

- **Patienten-ID:** 502
- **Geschlecht:** männlich
- **Alter:** 22 Jahre
- **Symptome:** Panikattacken

## Person 3

- **Patienten-ID:** 503
- **Geschlecht:** weiblich
- **Alter:** 58 Jahre
- **Symptome:** Trauer, Schlafstörungen

Bitte geben Sie bei Ihrer Antwort die Referenz A77 an. Wenn Sie weitere Informationen benötigen, schreiben Sie uns gern, wir stellen sie Ihnen zur Verfügung.

Mit freundlichen Grüßen

Ihr Curavani-Team`

func quoted(prefix string) string {
	lines := strings.Split(letter, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(prefix+l, " ")
	}
	return strings.Join(lines, "\n")
}

func outcomes(res replies.Result) []string {
	out := make([]string, len(res.Decisions))
	for i, d := range res.Decisions {
		out[i] = d.Outcome
	}
	return out
}

func TestParse_neverDecidesForSomeoneTheReplyDoesNotMention(t *testing.T) {
	bodies := map[string]string{
		"by number":             "Für Person 1 habe ich ab Juli einen Platz, Erstgespräch am 3.7. um 10 Uhr.",
		"by ID":                 "ID 501: gerne, ich habe einen Platz frei.",
		"by ordinal":            "Die erste Person kann ich gerne übernehmen.",
		"by description":        "Die 34-jährige Patientin mit Depression nehme ich gerne auf.",
		"by symptom":            "Für die Patientin mit der Depression habe ich einen Platz.",
		"rejection by number":   "Person 2 muss ich leider ablehnen, ich habe keinen Platz mehr.",
		"unsuitable by symptom": "Trauerbegleitung ist nicht mein Schwerpunkt, die Dame mit der Trauer kann ich nicht übernehmen.",
		"offer naming nobody":   "Ich hätte ab August einen Platz frei.",
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			res := replies.Parse(three, replies.Reply{Subject: "AW: Suche Psychotherapieplätze - Ref: A77", Body: "Hallo,\n\n" + body + "\n\nViele Grüße\nA. Roth"})
			decided := 0
			for _, d := range res.Decisions {
				if d.Outcome != "" {
					decided++
				}
			}
			if decided > 1 {
				t.Errorf("%d people decided, the reply speaks of one at most: %v", decided, outcomes(res))
			}
			if res.FullyDecided {
				t.Error("FullyDecided for a reply that leaves people out")
			}
		})
	}
}

func TestParse_neverDecidesOnAnAmbiguousDescription(t *testing.T) {
	// Two women: "die Patientin" could be either.
	res := replies.Parse(three, replies.Reply{Body: "Die Patientin nehme ich gerne, Erstgespräch am 3.7."})
	for _, d := range res.Decisions {
		if d.Outcome != "" {
			t.Errorf("patient %d decided %q on an ambiguous description", d.PatientID, d.Outcome)
		}
	}
}

func TestParse_quotedTextIsNeverTheAnswer(t *testing.T) {
	// Above the quote the therapist only thanks; the quoted text is an
	// earlier, decisive reply. Nobody is decided.
	answer := "Vielen Dank für Ihre Nachricht.\n\n" // no closing: only the quote marks end the answer
	earlier := "Person 1 nehme ich gerne, Person 2 und 3 leider nicht, ich bin voll.\n\nViele Grüße\nA. Roth"
	quote := func(prefix string) string {
		lines := strings.Split(earlier, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRight(prefix+l, " ")
		}
		return strings.Join(lines, "\n")
	}
	bodies := map[string]string{
		"outlook separator": answer + "-----Ursprüngliche Nachricht-----\nVon: Praxis Roth <praxis@roth.de>\nGesendet: Montag, 2. September 2024 08:00\nAn: Curavani\nBetreff: AW: Suche Psychotherapieplätze - Ref: A77\n\n" + earlier,
		"outlook headers":   answer + "Von: Praxis Roth <praxis@roth.de>\nGesendet: Montag, 2. September 2024 08:00\nAn: Curavani\nBetreff: AW: Suche Psychotherapieplätze - Ref: A77\n\n" + earlier,
		"outlook underline": answer + "________________________________\nFrom: Praxis Roth <praxis@roth.de>\nSent: Monday, 2 September 2024 08:00\n\n" + earlier,
		"gmail wrapped":     answer + "Am Mo., 2. Sept. 2024 um 08:00 Uhr schrieb Praxis Roth <\npraxis@roth.de>:\n\n" + quote("> "),
		"english":           answer + "On Mon, 2 Sep 2024 at 08:00, Praxis Roth <praxis@roth.de> wrote:\n" + quote("> "),
		"quoted only":       answer + quote("> "),
		"nested quotes":     answer + quote(">> "),
		"html blockquote":   "<div>Vielen Dank für Ihre Nachricht.</div><blockquote>" + strings.ReplaceAll(earlier, "\n", "<br>") + "</blockquote>",
		"pasted letter":     answer + letter,
		"quoted letter":     answer + "Am 02.09.2024 um 08:00 schrieb Curavani <anfragen@curavani.de>:\n" + quoted("> "),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			res := replies.Parse(three, replies.Reply{Subject: "AW: Suche Psychotherapieplätze - Ref: A77", Body: body})
			for _, d := range res.Decisions {
				if d.Outcome != "" {
					t.Errorf("patient %d decided %q from quoted text (evidence %q)", d.PatientID, d.Outcome, d.Evidence)
				}
			}
			if res.Reference != 77 {
				t.Errorf("Reference = %d, want 77", res.Reference)
			}
		})
	}
}

func TestParse_anEarlierReplyQuotedBelowIsNotTheAnswer(t *testing.T) {
	// The therapist first accepted, then writes again: only the new text counts.
	body := "Leider muss ich mich korrigieren: für Person 1 habe ich doch keinen Platz mehr.\n\nGruß A. Roth\n\n" +
		"Am 02.09.2024 um 10:00 schrieb Praxis Roth <praxis@roth.de>:\n> Person 1 nehme ich gerne, Person 2 und 3 leider nicht, ich bin voll.\n"
	res := replies.Parse(three, replies.Reply{Body: body})
	if got := outcomes(res); got[0] != replies.AbgelehntKapazitaet || got[1] != "" || got[2] != "" {
		t.Errorf("outcomes = %q, want [abgelehnt_Kapazitaet, undecided, undecided]", got)
	}
}

func TestParse_inlineAnswersBelowQuotedPeopleAnswerThosePeople(t *testing.T) {
	q := quoted("> ")
	q = strings.Replace(q, "> - **Symptome:** Depression\n", "> - **Symptome:** Depression\n\nNehme ich gerne.\n\n", 1)
	q = strings.Replace(q, "> - **Symptome:** Panikattacken\n", "> - **Symptome:** Panikattacken\n\nLeider kein Platz.\n\n", 1)
	body := "Hallo, Antworten im Text.\n\nAm 02.09.2024 um 08:00 schrieb Curavani <anfragen@curavani.de>:\n" + q + "\n\nGruß A. Roth"
	res := replies.Parse(three, replies.Reply{Body: body})
	if got := outcomes(res); got[0] != replies.Angenommen || got[1] != replies.AbgelehntKapazitaet || got[2] != "" {
		t.Errorf("outcomes = %q, want [angenommen, abgelehnt_Kapazitaet, undecided]", got)
	}
}

func TestParse_signatureAndFooterAreNeverTheAnswer(t *testing.T) {
	// The answer decides nothing; what is below it would decide everyone.
	answer := "Vielen Dank für Ihre Anfrage."
	footers := map[string]string{
		"after closing":       answer + "\n\nMit freundlichen Grüßen\nDr. A. Roth\nAktuell keine freien Therapieplätze – Warteliste geschlossen\nTel. 0221 / 12 34 56",
		"after sig delimiter": answer + "\n\n-- \nPraxis Dr. Roth | Aufnahmestopp: derzeit keine neuen Patienten | www.praxis-roth.de",
		"inline closing":      answer + " LG A. Roth, zur Zeit leider ausgebucht",
		"disclaimer":          answer + "\n\nDiese E-Mail enthält vertrauliche Informationen. Leider kann ich keine Patienten per E-Mail aufnehmen.",
		"mobile footer":       answer + "\n\nVon meinem iPhone gesendet\nkein Platz frei",
	}
	for name, body := range footers {
		t.Run(name, func(t *testing.T) {
			res := replies.Parse(three, replies.Reply{Body: body})
			for _, d := range res.Decisions {
				if d.Outcome != "" {
					t.Errorf("patient %d decided %q from the signature (evidence %q)", d.PatientID, d.Outcome, d.Evidence)
				}
			}
		})
	}
	// And a signature does not undo an answer above it.
	res := replies.Parse(three[:1], replies.Reply{Body: "Gerne nehme ich die Patientin auf, Erstgespräch am 2.10. um 14 Uhr.\n\n-- \nPraxis Roth | Aufnahmestopp | keine Warteliste"})
	if got := outcomes(res); got[0] != replies.Angenommen {
		t.Errorf("outcome = %q, want angenommen", got[0])
	}
}

func TestParse_automaticRepliesDecideNothing(t *testing.T) {
	cases := map[string]replies.Reply{
		"subject":       {Subject: "Automatische Antwort: Suche Psychotherapieplätze - Ref: A77", Body: "Ich bin bis 20.9. nicht in der Praxis. Danach habe ich wieder Plätze frei."},
		"vacation body": {Body: "Vielen Dank für Ihre Nachricht. Ich bin bis zum 20.09. im Urlaub und lese in dieser Zeit keine E-Mails. Person 1 nehme ich gerne."},
		"generated":     {Body: "*** Dies ist eine automatisch generierte Antwort ***\nLeider kein Platz frei."},
		"bounce":        {Subject: "Undeliverable: Suche Psychotherapieplätze", Body: "Delivery has failed to these recipients."},
		"sender":        {From: "MAILER-DAEMON@example.org", Body: "Leider kein Platz frei."},
		"read receipt":  {Subject: "Gelesen: Suche Psychotherapieplätze - Ref: A77", Body: "Ihre Nachricht wurde am 3.9.2024 gelesen."},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			res := replies.Parse(three, r)
			if !res.Automatic || res.FullyDecided {
				t.Errorf("Automatic = %v, FullyDecided = %v", res.Automatic, res.FullyDecided)
			}
			for _, d := range res.Decisions {
				if d.Outcome != "" {
					t.Errorf("patient %d decided %q in an automatic reply", d.PatientID, d.Outcome)
				}
			}
		})
	}
}

func TestParse_aHumanOnLeaveIsNoAutomaticReply(t *testing.T) {
	res := replies.Parse(three[:1], replies.Reply{Body: "Ich bin ab nächstem Monat in Elternzeit und nehme deshalb keine neuen Patientinnen auf."})
	if res.Automatic || res.Decisions[0].Outcome != replies.AbgelehntSonstiges {
		t.Errorf("Automatic = %v, outcome = %q, want a human's abgelehnt_sonstiges", res.Automatic, res.Decisions[0].Outcome)
	}
}

func TestParse_unknownPersonLeavesTheRestOpen(t *testing.T) {
	res := replies.Parse(three, replies.Reply{Body: "Person 4 nehme ich gerne, für alle anderen habe ich leider keinen Platz."})
	for _, d := range res.Decisions {
		if d.Outcome != "" {
			t.Errorf("patient %d decided %q although the reply names a Person 4 the anfrage lacks", d.PatientID, d.Outcome)
		}
	}
}

func TestParse_findsTheAnfrageReference(t *testing.T) {
	cases := []struct {
		subject, body string
		want          int64
	}{
		{"AW: Suche Psychotherapieplätze - Ref: A1042", "", 1042},
		{"Re: Ihre Anfrage", "betrifft Ref A-123: kein Platz", 123},
		{"Re: Ihre Anfrage", "zu Ihrer Anfrage 2143: leider nein", 2143},
		{"AW: A55", "", 55},
		{"Re: Anfrage", "Kein Platz.\n\n> Bitte geben Sie bei Ihrer Antwort die Referenz A987 an.", 987},
		{"AW: Ref: A1 und Ref: A2", "", 0}, // two different: none
		{"Re: Ihre Anfrage vom 12.06.", "leider kein Platz", 0},
	}
	for _, c := range cases {
		if got := replies.Parse(nil, replies.Reply{Subject: c.subject, Body: c.body}).Reference; got != c.want {
			t.Errorf("Reference(%q, %q) = %d, want %d", c.subject, c.body, got, c.want)
		}
	}
}

func TestParse_noPeopleDecidesNothing(t *testing.T) {
	res := replies.Parse(nil, replies.Reply{Body: "Alle nehme ich gerne!"})
	if len(res.Decisions) != 0 || res.FullyDecided {
		t.Errorf("Result = %+v for an anfrage without people", res)
	}
}

// TestParse_trickyPhrasingsAreNeverDecidedWrongly: turns of phrase that
// mislead a naive reader. Each person ends with the outcome a clerk would
// record or undecided; never with another outcome.
func TestParse_trickyPhrasingsAreNeverDecidedWrongly(t *testing.T) {
	const (
		A = replies.Angenommen
		K = replies.AbgelehntKapazitaet
		N = replies.AbgelehntNichtGeeignet
		S = replies.AbgelehntSonstiges
		o = "" // undecided is the only right answer
	)
	cases := []struct {
		body string
		want [3]string // per person of three; "" also when undecided is the right answer
	}{
		{"Für Person 1 habe ich keinen Platz, für Person 2 schon.", [3]string{K, A, o}},
		{"Ich glaube nicht, dass ich Person 1 aufnehmen kann.", [3]string{o, o, o}},
		{"Ich kann nicht ausschließen, dass ich Person 1 nehmen kann.", [3]string{o, o, o}},
		{"Person 1 nehme ich gerne – wenn sie vormittags kann.", [3]string{o, o, o}},
		{"Einen Platz hätte ich für die Patientin mit Depression, aber erst in sechs Monaten.", [3]string{o, o, o}},
		{"Person 2 würde ich gerne nehmen, habe aber leider keinen Platz.", [3]string{o, K, o}},
		{"Gerne hätte ich Person 1 übernommen, leider bin ich aber voll.", [3]string{K, o, o}},
		{"Ja, leider kann ich keinen der drei aufnehmen.", [3]string{o, o, o}},
		{"Gerne nehme ich die Patientin mit Depression auf meine Warteliste.", [3]string{o, o, o}},
		{"Ich kann die Patientin mit Depression aufnehmen, allerdings erst, wenn ihre stationäre Behandlung abgeschlossen ist.", [3]string{o, o, o}},
		{"Meine Kollegin Dr. Sommer hat noch Plätze frei, ich selbst leider nicht.", [3]string{o, o, o}},
		{"Person 1 nehme ich, meine Kollegin nimmt Person 2.", [3]string{A, o, o}},
		{"Ich nehme Person 1 und Person 2 nicht.", [3]string{o, o, o}},
		{"Leider kann ich nur Person 3 nehmen.", [3]string{o, o, A}},
		{"Die Patientin mit der Depression nehme ich nicht, die mit der Trauer gerne.", [3]string{o, o, A}},
		{"Person 1 – nein. Person 2 – ja.", [3]string{o, A, o}},
		{"Ich behandle nur Privatpatienten.", [3]string{S, S, o}},
		{"Ich behandle ausschließlich Erwachsene über 60 Jahre.", [3]string{N, N, o}},
		{"Bitte nehmen Sie meine Praxis aus Ihrem Verteiler.", [3]string{o, o, o}},
		{"Wie alt ist denn Person 2? Person 1 nehme ich.", [3]string{A, o, o}},
		{"Ich hatte Person 1 schon einmal in Behandlung und würde sie gerne wieder nehmen, bin aber voll.", [3]string{o, o, o}},
		{"Den jungen Mann nehme ich nicht, der passt nicht zu meinem Schwerpunkt; die beiden Damen gerne.", [3]string{A, N, A}},
	}
	for _, c := range cases {
		t.Run(c.body, func(t *testing.T) {
			res := replies.Parse(three, replies.Reply{Body: "Hallo,\n\n" + c.body + "\n\nGruß\nA. Roth"})
			for i, d := range res.Decisions {
				if d.Outcome != "" && d.Outcome != c.want[i] {
					t.Errorf("Person %d: %q, want %q or undecided (evidence %q)", i+1, d.Outcome, c.want[i], d.Evidence)
				}
			}
		})
	}
}
