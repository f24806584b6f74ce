package placement_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var sentAt = time.Date(2025, 8, 5, 9, 0, 0, 0, time.UTC)

// sentAnfrage is a fresh database holding anfrage 1 to therapist 9, sent,
// with the searches 11 and 12 of patients 101 and 102; and a service on it
// whose clock is a week later.
func sentAnfrage(t *testing.T) (*placement.Service, *pgxpool.Pool) {
	t.Helper()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	for _, sql := range []string{
		`INSERT INTO matching_service.platzsuche (id, patient_id) VALUES (11, 101), (12, 102)`,
		`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse, gesendet_datum) VALUES (1, 9, 2, '2025-08-05 09:00')`,
		`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
		 VALUES (1, 11, 101, 1), (1, 12, 102, 2)`,
	} {
		if _, err := pool.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	s := placement.New(placement.Config{
		Pool:     pool,
		Matching: config.Matching{CoolingPeriodWeeks: 4, Timezone: "Europe/Berlin"},
		Now:      func() time.Time { return sentAt.AddDate(0, 0, 7) },
	})
	return s, pool
}

// TestRecordResponse_aCallerOtherThanTheAPIGetsATypedResultAndItsNote is
// how the email-reply processing records a reply: outcomes by patient id
// and a note by System, and the same reply again changes nothing.
func TestRecordResponse_aCallerOtherThanTheAPIGetsATypedResultAndItsNote(t *testing.T) {
	t.Parallel()
	s, pool := sentAnfrage(t)
	ctx := context.Background()
	r := placement.Response{
		Outcomes: []placement.PatientOutcome{{PatientID: 102, Outcome: matching.OutcomeAbgelehntKapazitaet}, {PatientID: 101, Outcome: matching.OutcomeAngenommen}},
		Note:     placement.Note{Text: "Antwort automatisch aus E-Mail übernommen", Author: matching.AuthorSystem},
	}
	got, err := s.RecordResponse(ctx, 1, r)
	if err != nil {
		t.Fatal(err)
	}
	want := placement.ResponseRecorded{
		AnfrageID: 1, TherapistID: 9,
		Summary:      matching.Summary{Accepted: 1, Rejected: 1, Type: matching.ResponseTeilweiseAnnahme},
		Accepted:     []placement.AcceptedPatient{{PatientID: 101, SearchID: 11}},
		CoolingUntil: "2025-09-09",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("result (-want +got):\n%s", d)
	}
	var notes, search string
	var events int
	if err := pool.QueryRow(ctx, `SELECT notizen, (SELECT status::text FROM matching_service.platzsuche WHERE id = 11),
		(SELECT count(*) FROM matching_service.outbox) FROM matching_service.therapeutenanfrage WHERE id = 1`).Scan(&notes, &search, &events); err != nil {
		t.Fatal(err)
	}
	// response_received, cooling.period_started, search 11's status change.
	if notes != "[2025-08-12 09:00 (System)] Antwort automatisch aus E-Mail übernommen" || search != "erfolgreich" || events != 3 {
		t.Errorf("notes %q, search 11 %s, %d events", notes, search, events)
	}

	again, err := s.RecordResponse(ctx, 1, r)
	if err != nil {
		t.Fatal(err)
	}
	want.Repeated, want.CoolingUntil = true, ""
	if d := cmp.Diff(want, again); d != "" {
		t.Errorf("repeat (-want +got):\n%s", d)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM matching_service.outbox`).Scan(&events); err != nil || events != 3 {
		t.Errorf("%d events after the repeat, %v", events, err)
	}
}

func TestRecordResponse_anUnknownOutcomeIsRefusedAfterTheAnfragesOwnChecks(t *testing.T) {
	t.Parallel()
	s, _ := sentAnfrage(t)
	r := placement.Response{Outcomes: []placement.PatientOutcome{{PatientID: 101, Outcome: "vielleicht"}, {PatientID: 102, Outcome: matching.OutcomeAngenommen}}}
	if _, err := s.RecordResponse(context.Background(), 2, r); fault.KindOf(err) != fault.NotFound {
		t.Errorf("unknown anfrage: %v, want not found first", err)
	}
	_, err := s.RecordResponse(context.Background(), 1, r)
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.Invalid || fe.Message != "Invalid patient response: 101 -> vielleicht" {
		t.Errorf("unknown outcome: %v", err)
	}
}
