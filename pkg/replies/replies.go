package replies

// Outcomes a reply can decide for a patient: the patientenergebnis values a
// clerk types into PUT …/antwort after reading a reply. They equal the
// constants of pkg/matching (a test checks); this package keeps its own copy
// so that it imports nothing of the project.
const (
	Angenommen             = "angenommen"
	AbgelehntKapazitaet    = "abgelehnt_Kapazitaet"
	AbgelehntNichtGeeignet = "abgelehnt_nicht_geeignet"
	AbgelehntSonstiges     = "abgelehnt_sonstiges"
)

// Person is one person of the anfrage as the letter lists them under
// "## Person N". Only what the letter shows is used: the reply can refer to
// nothing else.
type Person struct {
	// Number is N of "## Person N", the 1-based position in the letter.
	// Zero means the position in the slice passed to Parse.
	Number int
	// PatientID is the Patienten-ID the letter shows.
	PatientID int64
	// Geschlecht is weiblich, männlich, divers, keine_Angabe or empty.
	// Only weiblich and männlich restrict how a reply may describe the
	// person ("die Patientin", "der junge Mann").
	Geschlecht string
	// Alter is the age in years the letter shows; 0 when unknown.
	Alter int
	// Symptome are the symptoms the letter lists ("Angststörung", "PTBS").
	Symptome []string
	// Krankenkasse is the insurance the letter shows ("AOK", "privat");
	// optional. It lets "gesetzlich Versicherte" and "die privat versicherte
	// Patientin" be resolved.
	Krankenkasse string
}

// Reply is a therapist's email answering the anfrage letter.
type Reply struct {
	Subject string
	Body    string // plain text; simple HTML is turned into text
	From    string // optional; recognises mailer daemons and no-reply senders
}

// Decision is what the reply says about one patient.
type Decision struct {
	PatientID int64
	Person    int // the Person number
	// Outcome is one of the outcome constants, or "" when undecided.
	Outcome string
	// Evidence is the sentence of the reply that decided the outcome, as the
	// therapist wrote it; for an undecided patient the sentence that left
	// it open, when there is one.
	Evidence string
	// Reason says in German why the patient is undecided ("nicht erwähnt",
	// "Rückfrage", "Widerspruch", …); empty when decided.
	Reason string
}

// Result is the reading of one reply.
type Result struct {
	// Decisions holds one entry per person, in the order of the people
	// passed to Parse.
	Decisions []Decision
	// Automatic reports an automatic reply: out-of-office, auto-reply,
	// delivery or read notice. Every patient of an automatic reply is
	// undecided.
	Automatic bool
	// Reference is the anfrage id the reply names in its subject or body
	// ("Ref: A123", "Ref A-123", "Anfrage 123", a bare "A123" in the
	// subject); 0 when it names none or more than one.
	Reference int64
	// FullyDecided reports that every patient has an outcome, so the reply
	// could be applied as it is. It is false for an automatic reply and for
	// an anfrage without people.
	FullyDecided bool
}

// Parse reads reply as an answer to the anfrage that lists people. It never
// fails and does no I/O: whatever the input, it returns one Decision per
// person, undecided whenever a careful clerk would not decide. Work is
// bounded (see the package documentation), so Parse is safe on untrusted
// input of any size.
func Parse(people []Person, reply Reply) Result {
	res := Result{Decisions: make([]Decision, len(people))}
	ps := newPeople(people)
	for i := range people {
		res.Decisions[i] = Decision{PatientID: people[i].PatientID, Person: ps[i].number}
	}

	body := plainText(reply.Body)
	ans := extractAnswer(body)
	full := fold(ans.full)
	res.Reference = findReference(reply.Subject, full, body)
	res.Automatic = isAutomatic(reply, full)
	if res.Automatic {
		for i := range res.Decisions {
			res.Decisions[i].Reason = reasonAutomatic
		}
		return res
	}

	doc := analyse(ans, ps)
	decided := 0
	for i := range res.Decisions {
		v := doc.decide(i)
		res.Decisions[i].Outcome, res.Decisions[i].Evidence, res.Decisions[i].Reason = v.outcome, v.evidence, v.reason
		if v.outcome != "" {
			decided++
		}
	}
	res.FullyDecided = len(people) > 0 && decided == len(people)
	return res
}
