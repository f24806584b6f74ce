package handlers_test

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/replies"
	"github.com/curavani/matching/pkg/store/storetest"
)

// example is a line of the shared reply examples: the anfrage's people as
// its letter showed them, the reply, and what a clerk recorded (null:
// undecided).
type example struct {
	ID        string                  `json:"id"`
	AnfrageID int64                   `json:"anfrage_id"`
	Patients  []matching.LetterPerson `json:"patients"`
	Subject   string                  `json:"subject"`
	Body      string                  `json:"body"`
	Expected  map[string]*string      `json:"expected"`
}

func loadExamples(t *testing.T) []example {
	t.Helper()
	f, err := os.Open("../replies/testdata/examples.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []example
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e example
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

// Every shared example, delivered as the communication service delivers a
// reply to its anfrage's email: no outcome a clerk would not have recorded
// is ever recorded, and every reply the parser reads as fully decided (and
// not automatic) is recorded end to end, none lost on the way.
func TestEmailReply_sharedExamplesEndToEnd(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	h := server(communication(pool))
	examples := loadExamples(t)
	applied, decidable := 0, 0
	for i, ex := range examples {
		emailID := int64(100000 + i)
		var searches []int64
		for _, p := range ex.Patients {
			var id int64
			err := pool.QueryRow(ctx, `SELECT id FROM matching_service.platzsuche WHERE patient_id = $1 AND status = 'aktiv'`, p.PatientID).Scan(&id)
			if err != nil {
				id = insertSearch(t, pool, p.PatientID, "aktiv")
			}
			searches = append(searches, id)
		}
		people, _ := json.Marshal(ex.Patients)
		if _, err := pool.Exec(ctx, `
			INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse, gesendet_datum, email_id, brief_personen)
			VALUES ($1, $2, $3, '2025-08-01 09:00', $4, $5)`, ex.AnfrageID, 500+i, len(searches), emailID, string(people)); err != nil {
			t.Fatal(err)
		}
		for pos, s := range searches {
			if _, err := pool.Exec(ctx, `
				INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
				VALUES ($1, $2, $3, $4)`, ex.AnfrageID, s, ex.Patients[pos].PatientID, pos+1); err != nil {
				t.Fatal(err)
			}
		}
		if code, outcome := send(t, h, replyEvent(ex.ID, emailID, ex.Subject, ex.Body)); code != 200 || outcome != "processed" {
			t.Fatalf("%s: status %d outcome %q", ex.ID, code, outcome)
		}

		var ps []replies.Person
		for _, p := range ex.Patients {
			ps = append(ps, replies.Person{Number: p.Person, PatientID: p.PatientID, Geschlecht: p.Geschlecht,
				Alter: p.Alter, Symptome: p.Symptome, Krankenkasse: p.Krankenkasse})
		}
		if res := replies.Parse(ps, replies.Reply{Subject: ex.Subject, Body: ex.Body}); res.FullyDecided && !res.Automatic {
			decidable++
		}
		got := outcomes(t, pool, ex.AnfrageID)
		recorded := got[ex.Patients[0].PatientID] != ""
		if !recorded {
			continue
		}
		applied++
		for _, p := range ex.Patients {
			want := ex.Expected[jsonKey(p.PatientID)]
			if want == nil || *want != got[p.PatientID] {
				t.Errorf("%s: patient %d recorded %q, the clerk chose %v", ex.ID, p.PatientID, got[p.PatientID], want)
			}
		}
	}
	t.Logf("%d examples delivered, %d recorded automatically end to end (the parser reads %d as fully decided, not automatic)",
		len(examples), applied, decidable)
	if applied != decidable {
		t.Errorf("%d replies recorded, but %d are fully decided", applied, decidable)
	}
}

func jsonKey(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}
