package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store/storetest"
)

// letterPeople are the two people of replyAnfrage's letter.
var letterPeople = []matching.LetterPerson{
	{Person: 1, PatientID: 101, Geschlecht: "weiblich", Alter: 34, Symptome: []string{"Depression"}, Krankenkasse: "TK"},
	{Person: 2, PatientID: 102, Geschlecht: "männlich", Alter: 41, Symptome: []string{"Burnout"}, Krankenkasse: "AOK"},
}

// replyAnfrage is an anfrage to therapist 9, sent by email emailID, with the
// aktiv searches of patients 101 (Person 1) and 102 (Person 2) (made when
// they do not exist yet) as its letter showed them.
func replyAnfrage(t *testing.T, pool *pgxpool.Pool, emailID int64, therapist int64) int64 {
	t.Helper()
	search := func(patient int64) int64 {
		var id int64
		err := pool.QueryRow(context.Background(), `SELECT id FROM matching_service.platzsuche WHERE patient_id = $1`, patient).Scan(&id)
		if err != nil {
			return insertSearch(t, pool, patient, "aktiv")
		}
		return id
	}
	s1, s2 := search(101), search(102)
	id := insertAnfrage(t, pool, anfrage{therapist: therapist, sent: true, emailID: &emailID, searches: []int64{s1, s2}})
	raw, _ := json.Marshal(letterPeople)
	if _, err := pool.Exec(context.Background(), `UPDATE matching_service.therapeutenanfrage SET brief_personen = $2 WHERE id = $1`, id, string(raw)); err != nil {
		t.Fatal(err)
	}
	return id
}

// replyEvent is the communication service's email.response_received for a
// reply to email emailID.
func replyEvent(eventID string, emailID int64, subject, body string) delivery {
	data, _ := json.Marshal(map[string]any{"email_id": emailID, "response_data": map[string]any{
		"subject": subject, "body": body, "from": "praxis@example.org", "received_at": "2025-08-12T09:30:00"}})
	return typed("communication.email_response_received", eventID, string(data))
}

// outcomes are the anfrage's recorded outcomes by patient ("" for none).
func outcomes(t *testing.T, pool *pgxpool.Pool, anfrageID int64) map[int64]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT patient_id, coalesce(antwortergebnis::text, '') FROM matching_service.therapeut_anfrage_patient
		WHERE therapeutenanfrage_id = $1`, anfrageID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var o string
		if err := rows.Scan(&id, &o); err != nil {
			t.Fatal(err)
		}
		out[id] = o
	}
	return out
}

// emitted lists the outbox rows as "type key payload".
func emitted(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT event_type || ' ' || partition_key || ' ' || payload::text FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// suggestion is a stored antwort_vorschlag row, as the clerk would read it.
type suggestion struct {
	Anfrage   *int64
	Status    string
	Reason    *string
	Automatic bool
	Responses map[string]string
	Unclear   []int64
}

func suggestions(t *testing.T, pool *pgxpool.Pool) []suggestion {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT therapeutenanfrage_id, status, grund, automatisch, patient_responses, unklar
		FROM matching_service.antwort_vorschlag ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var out []suggestion
	for rows.Next() {
		var s suggestion
		if err := rows.Scan(&s.Anfrage, &s.Status, &s.Reason, &s.Automatic, &s.Responses, &s.Unclear); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func notes(t *testing.T, pool *pgxpool.Pool, anfrageID int64) string {
	t.Helper()
	a, _ := readAnfrage(t, pool, anfrageID)
	if a.Notes == nil {
		return ""
	}
	return *a.Notes
}

func ip(i int64) *int64     { return &i }
func sptr(s string) *string { return &s }

// A reply that decides every patient is recorded as PUT …/antwort records
// it: outcomes, the accepted search erfolgreich, the cooling period, the
// same events, the System note; the suggestion is stored as uebernommen.
// The cooling date goes to the therapist service after the commit.
func TestEmailReply_decidingEveryPatientIsRecordedAsTheResponse(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	f, ncfg := fake.Start(t)
	therapist := f.AddTherapist(fake.SampleTherapist(nil))
	id := replyAnfrage(t, pool, 900, therapist)
	cfg := testMatching
	cfg.TherapistCoolingWriteback = true
	clients := neighbours.NewClients(ncfg)
	h := server(handlers.Communication(pool, nil, nil, placement.New(placement.Config{Pool: pool, Therapists: clients.Therapists, Matching: cfg})))

	body := "Guten Tag,\n\nfür Person 1 kann ich ab Oktober einen Platz anbieten. Für Person 2 habe ich leider keine Kapazität.\n\nViele Grüße\nK. Wolff"
	if code, outcome := send(t, h, replyEvent("r1", 900, "AW: Suche Psychotherapieplätze - Ref: A"+fmt.Sprint(id), body)); code != 200 || outcome != "processed" {
		t.Fatalf("status %d outcome %q", code, outcome)
	}
	if d := cmp.Diff(map[int64]string{101: "angenommen", 102: "abgelehnt_Kapazitaet"}, outcomes(t, pool, id)); d != "" {
		t.Errorf("outcomes (-want +got):\n%s", d)
	}
	if n := notes(t, pool, id); !strings.HasSuffix(n, "(System)] Antwort automatisch aus E-Mail übernommen") {
		t.Errorf("notes %q", n)
	}
	var types []string
	for _, e := range emitted(t, pool) {
		types = append(types, strings.Fields(e)[0])
	}
	if d := cmp.Diff([]string{"therapeutenanfrage.response_received", "cooling.period_started", "search.status_changed"}, types); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	var cooling string
	if err := pool.QueryRow(t.Context(), `SELECT naechster_kontakt_moeglich::text FROM matching_service.therapeut_kontaktsperre WHERE therapist_id = $1`, therapist).Scan(&cooling); err != nil {
		t.Fatalf("no cooling period: %v", err)
	}
	if rec, _ := f.Therapist(therapist); rec["naechster_kontakt_moeglich"] != cooling {
		t.Errorf("therapist service holds %v, matching %s", rec["naechster_kontakt_moeglich"], cooling)
	}
	want := []suggestion{{Anfrage: ip(id), Status: "uebernommen", Automatic: true,
		Responses: map[string]string{"101": "angenommen", "102": "abgelehnt_Kapazitaet"}, Unclear: []int64{}}}
	if d := cmp.Diff(want, suggestions(t, pool)); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
}

// A reply that leaves a patient open records nothing: the suggestion with
// what it did decide waits for a clerk, the anfrage gets the review note and
// response_review_needed names the undecided patient.
func TestEmailReply_leavingAPatientOpenIsFiledForReview(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)
	h := server(communication(pool))

	body := "Guten Tag,\n\nPerson 1 nehme ich gern auf. Zu Person 2 melde ich mich nächste Woche.\n\nViele Grüße"
	if code, outcome := send(t, h, replyEvent("r1", 900, "AW: Ihre Anfrage", body)); code != 200 || outcome != "processed" {
		t.Fatalf("status %d outcome %q", code, outcome)
	}
	if d := cmp.Diff(map[int64]string{101: "", 102: ""}, outcomes(t, pool, id)); d != "" {
		t.Errorf("outcomes recorded (-want +got):\n%s", d)
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE antwort_datum IS NOT NULL`); n != 0 {
		t.Errorf("the anfrage got a response")
	}
	if n := notes(t, pool, id); !strings.HasSuffix(n, "(System)] E-Mail-Antwort eingegangen, bitte prüfen") {
		t.Errorf("notes %q", n)
	}
	want := fmt.Sprintf(`therapeutenanfrage.response_review_needed %d {"email_id": 900, "anfrage_id": %d, "therapist_id": 9, "undecided_patient_ids": [102]}`, id, id)
	if d := cmp.Diff([]string{want}, emitted(t, pool)); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	wantS := []suggestion{{Anfrage: ip(id), Status: "offen", Reason: sptr("unklar"),
		Responses: map[string]string{"101": "angenommen"}, Unclear: []int64{102}}}
	if d := cmp.Diff(wantS, suggestions(t, pool)); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.therapeut_kontaktsperre`); n != 0 {
		t.Errorf("%d cooling periods, want none", n)
	}
}

// A reply no anfrage can be found for (an unknown email, no reference) is
// kept for review, unassigned; nothing else changes and nothing is emitted.
func TestEmailReply_withoutAnAnfrageIsKeptUnassigned(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)
	h := server(communication(pool))
	if code, _ := send(t, h, replyEvent("r1", 901, "Therapieplatz", "Ich kann alle aufnehmen.")); code != 200 {
		t.Fatalf("status %d", code)
	}
	if d := cmp.Diff([]suggestion{{Status: "offen", Reason: sptr("nicht_zugeordnet"), Responses: map[string]string{}, Unclear: []int64{}}},
		suggestions(t, pool)); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
	if ev := emitted(t, pool); len(ev) != 0 {
		t.Errorf("emitted %v", ev)
	}
	if n := notes(t, pool, id); n != "" || outcomes(t, pool, id)[101] != "" {
		t.Errorf("the unrelated anfrage changed: notes %q", n)
	}
}

// The same reply delivered again changes nothing: under the same event id
// (the inbox) and under a new one (the reply itself, per email and content).
// A different reply to the same email is a reply of its own.
func TestEmailReply_deliveredTwiceChangesNothingTheSecondTime(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)
	h := server(communication(pool))
	body := "Person 1 nehme ich gern auf. Zu Person 2 melde ich mich nächste Woche."
	for i, d := range []delivery{
		replyEvent("r1", 900, "AW", body),
		replyEvent("r1", 900, "AW", body),
		replyEvent("r2", 900, "AW", body),
	} {
		code, outcome := send(t, h, d)
		if want := []string{"processed", "duplicate", "processed"}[i]; code != 200 || outcome != want {
			t.Fatalf("delivery %d: status %d outcome %q, want %s", i, code, outcome, want)
		}
	}
	if n := len(emitted(t, pool)); n != 1 {
		t.Errorf("%d events, want the one review_needed", n)
	}
	if n := strings.Count(notes(t, pool, id), "bitte prüfen"); n != 1 {
		t.Errorf("%d review notes, want 1", n)
	}
	if n := len(suggestions(t, pool)); n != 1 {
		t.Errorf("%d suggestions, want 1", n)
	}
	if code, _ := send(t, h, replyEvent("r3", 900, "AW", "Nachtrag: Person 2 kann ich leider nicht aufnehmen, keine Kapazität.")); code != 200 {
		t.Fatalf("status %d", code)
	}
	if n := len(suggestions(t, pool)); n != 2 {
		t.Errorf("%d suggestions after a second reply, want 2", n)
	}
}

// A reply to an anfrage that already holds a response never overwrites it,
// even when it decides every patient: it is stored for review.
func TestEmailReply_toAnAnsweredAnfrageNeverOverwritesTheResponse(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)
	uc := placement.New(placement.Config{Pool: pool, Matching: testMatching})
	if _, err := uc.RecordResponse(t.Context(), id, placement.Response{Outcomes: []placement.PatientOutcome{
		{PatientID: 101, Outcome: "abgelehnt_Kapazitaet"}, {PatientID: 102, Outcome: "abgelehnt_Kapazitaet"}}}); err != nil {
		t.Fatal(err)
	}
	before := len(emitted(t, pool))
	h := server(handlers.Communication(pool, nil, nil, uc))
	if code, _ := send(t, h, replyEvent("r1", 900, "AW", "Guten Tag, ich kann beide Personen aufnehmen.")); code != 200 {
		t.Fatalf("status %d", code)
	}
	if d := cmp.Diff(map[int64]string{101: "abgelehnt_Kapazitaet", 102: "abgelehnt_Kapazitaet"}, outcomes(t, pool, id)); d != "" {
		t.Errorf("the response changed (-want +got):\n%s", d)
	}
	ev := emitted(t, pool)[before:]
	if len(ev) != 1 || !strings.HasPrefix(ev[0], "therapeutenanfrage.response_review_needed ") {
		t.Errorf("events %v, want one review_needed", ev)
	}
	wantS := []suggestion{{Anfrage: ip(id), Status: "offen", Reason: sptr("bereits_beantwortet"),
		Responses: map[string]string{"101": "angenommen", "102": "angenommen"}, Unclear: []int64{}}}
	if d := cmp.Diff(wantS, suggestions(t, pool)); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
	// The clerk confirms the stored response: the reply no longer waits.
	if _, err := uc.RecordResponse(t.Context(), id, placement.Response{Outcomes: []placement.PatientOutcome{
		{PatientID: 101, Outcome: "abgelehnt_Kapazitaet"}, {PatientID: 102, Outcome: "abgelehnt_Kapazitaet"}}}); err != nil {
		t.Fatal(err)
	}
	if s := suggestions(t, pool); s[0].Status != "uebernommen" {
		t.Errorf("after the clerk's response the suggestion is %s", s[0].Status)
	}
}

// A reply is never recorded on an anfrage it may not belong to: one that
// answers the email of one anfrage but names another, and one found only
// by the reference it quotes, wait for a clerk; the other anfrage is not
// touched.
func TestEmailReply_neverRecordedOnAnotherAnfrage(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	a := replyAnfrage(t, pool, 900, 9)
	b := replyAnfrage(t, pool, 901, 8)
	h := server(communication(pool))
	decided := "Guten Tag, ich kann beide Personen aufnehmen."
	if code, _ := send(t, h, replyEvent("r1", 900, fmt.Sprintf("AW: Suche Psychotherapieplätze - Ref: A%d", b), decided)); code != 200 {
		t.Fatalf("status %d", code)
	}
	if code, _ := send(t, h, replyEvent("r2", 555, fmt.Sprintf("AW: Suche Psychotherapieplätze - Ref: A%d", b), decided)); code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, id := range []int64{a, b} {
		if d := cmp.Diff(map[int64]string{101: "", 102: ""}, outcomes(t, pool, id)); d != "" {
			t.Errorf("anfrage %d got outcomes (-want +got):\n%s", id, d)
		}
	}
	all := map[string]string{"101": "angenommen", "102": "angenommen"}
	wantS := []suggestion{
		{Anfrage: ip(a), Status: "offen", Reason: sptr("referenz_abweichend"), Responses: all, Unclear: []int64{}},
		{Anfrage: ip(b), Status: "offen", Reason: sptr("nur_referenz"), Responses: all, Unclear: []int64{}},
	}
	if d := cmp.Diff(wantS, suggestions(t, pool)); d != "" {
		t.Errorf("suggestions (-want +got):\n%s", d)
	}
}

// An outcome is never guessed for a person the reply does not mention, and
// the quoted letter below the answer is not read as the answer.
func TestEmailReply_neverGuessesNorReadsTheQuotedLetter(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)
	h := server(communication(pool))
	letter := matching.RenderEmail(matching.Therapist{}, nil, id, time.Date(2025, 8, 5, 9, 0, 0, 0, time.UTC))
	for _, p := range letterPeople {
		letter += fmt.Sprintf("\n## Person %d\n\n- **Patienten-ID:** %d\n", p.Person, p.PatientID)
	}
	quoted := "> " + strings.ReplaceAll(letter, "\n", "\n> ")
	for i, body := range []string{
		"Für Person 1 habe ich einen Platz frei.\n\nViele Grüße",
		"Ich melde mich nächste Woche bei Ihnen.\n\nAm 12.08.2025 schrieb Curavani:\n" + quoted,
	} {
		if code, _ := send(t, h, replyEvent(fmt.Sprint("r", i), 900, "AW", body)); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	s := suggestions(t, pool)
	if d := cmp.Diff(map[string]string{"101": "angenommen"}, s[0].Responses); d != "" || !slicesEqual(s[0].Unclear, []int64{102}) {
		t.Errorf("unmentioned person 2: responses %v unclear %v", s[0].Responses, s[0].Unclear)
	}
	if len(s[1].Responses) != 0 || !slicesEqual(s[1].Unclear, []int64{101, 102}) {
		t.Errorf("the quoted letter was read: responses %v unclear %v", s[1].Responses, s[1].Unclear)
	}
	if d := cmp.Diff(map[int64]string{101: "", 102: ""}, outcomes(t, pool, id)); d != "" {
		t.Errorf("outcomes recorded (-want +got):\n%s", d)
	}
}

func slicesEqual(a, b []int64) bool { return cmp.Equal(a, b) }

// A reply without a body, or without the email it answers, is poison: 422
// and nothing stored.
func TestEmailReply_withoutBodyOrEmailIsRejected(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	h := server(communication(pool))
	for _, payload := range []string{
		`{"email_id": 900, "response_data": {"subject": "AW"}}`,
		`{"email_id": 900}`,
		`{"response_data": {"body": "Ja"}}`,
	} {
		if code, _ := send(t, h, typed("email.response_received", "p", payload)); code != 422 {
			t.Errorf("%s: status %d, want 422", payload, code)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.antwort_vorschlag`) + count(t, pool, `SELECT count(*) FROM matching_service.processed_events`); n != 0 {
		t.Errorf("%d rows stored, want none", n)
	}
}
