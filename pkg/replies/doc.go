// Package replies reads a therapist's email reply to an anfrage letter and
// says, per patient, what a careful clerk would record: angenommen,
// abgelehnt_Kapazitaet, abgelehnt_nicht_geeignet, abgelehnt_sonstiges, or
// undecided, each with the sentence that decided it (enhancements.md B2,
// B5). It is pure Go: no I/O, no network, no model files, nothing of the
// project imported.
//
//	res := replies.Parse(people, replies.Reply{Subject: s, Body: b})
//	if res.FullyDecided { … apply res.Decisions as PUT …/antwort would … }
//
// Guessing is the one error that must not happen: a wrong outcome applied
// automatically reaches a patient. So every doubt ends undecided, with a
// reason the clerk can read. The rules are a clerk's checklist, in order:
//
//  1. Is it automatic? Out-of-office notes, auto-replies and
//     acknowledgements, delivery failures and read receipts decide nothing
//     (automatic.go).
//  2. What did the therapist write? The quoted original letter is never the
//     answer: it starts at "-----Ursprüngliche Nachricht-----", "Am …
//     schrieb …:", "On … wrote:", an Outlook "Von:/Gesendet:" block, a line of
//     our own letter ("## Person 2") or is quoted with "> " (an answer
//     between quoted person sections answers that person). Greetings,
//     closing formulas, signatures and footers are dropped (answer.go).
//  3. Sentence by sentence, clause by clause (sentences.go, clause.go),
//     spelled one way: lower case, ä/ö/ü as ae/oe/ue, ß as ss (text.go).
//  4. Who is meant (refs.go, describe.go, people.go): Person number, "Nr. 4",
//     ordinal ("die zweite Person"), Patienten-ID ("#3301", "ID 615", a bare
//     "2301 –" at the start of a line), a description by gender, age,
//     symptom or insurance ("den 21-jährigen jungen Mann mit Depression",
//     "die privat versicherte Patientin"), a group ("die beiden Herren",
//     "Essstörungen behandle ich nicht"), everyone ("alle", "keine der
//     Personen", "beide" of two) or the rest ("die anderen beiden", "den
//     Rest"). A sentence that names nobody is about whom the sentence
//     before it in the same paragraph or list item was about.
//  5. What is said (lexicon.go): phrases that mean a place or an
//     appointment, no capacity, not suitable, another reason, or "not
//     decided" (a question back, "melde mich später", "rufen Sie mich an",
//     a waiting list without a place, "eventuell", "falls"). A negated offer
//     is a rejection ("keinen freien Platz": no capacity; "kann ich nicht
//     aufnehmen": a rejection whose reason must be found nearby; a plain
//     "keinen Platz anbieten" is no capacity only when no other reason
//     stands beside it).
//  6. Decide (decide.go): per patient, the most specific statements win
//     (named one by one, then as a group, then everyone, then sentences
//     naming nobody); they decide only when they agree. A patient the reply
//     does not mention is undecided unless a collective statement clearly
//     covers them. A rejection without a reason the rules know is
//     undecided ("keine neuen Patienten" alone, "…, daher …" with a reason
//     they cannot read), and so is everyone left to "die anderen" when the
//     reply names a person the anfrage lacks.
//
// Work is bounded on any input: only the first 64 KiB of the body and its
// first 4000 lines are looked at, only the first 16 KiB and 150 sentences of
// the answer are read, and a sentence is cut at 600 bytes. All patterns are
// RE2 regular expressions, linear in their input.
//
// The tests measure the rules on shared/data/email-replies/examples.jsonl
// (copied to testdata/examples.jsonl) and on testdata/own.jsonl, replies
// written for this package in other words; go test -v -run Accuracy prints
// the figures. REPLIES_DUMP=<case id> go test -run TestDump shows how one
// case is read.
package replies
