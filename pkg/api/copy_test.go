package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// withCopy gives the API matching's copy of the patients and therapists in
// front of its neighbour clients, as api.Wire does, and hands it to *dir.
func withCopy(dir **directory.Directory) option {
	return func(c *api.Config) {
		c.Directory = &directory.Directory{Pool: c.Pool, Patients: c.Patients,
			Therapists: c.Therapists.(*neighbours.TherapistClient), Distances: c.Distances}
		*dir = c.Directory
	}
}

// copyScenario fills an API's fake and database with the data of the
// composition and selection tests: a practice of two, a therapist with an
// open anfrage, one in matching's cooling, one without email, one in
// another area; patients failing each constraint in turn between eligible
// ones; an urgent search. It returns the therapist to compose for.
func copyScenario(e *env) int64 {
	e.t.Helper()
	e.therapist(map[string]any{"nachname": "Müller", "vorname": "Anna", "email": "praxis.mueller@example.org", "titel": nil})
	e.therapist(map[string]any{"nachname": "Schmidt", "vorname": "Bea", "email": "Praxis.Mueller@example.org ", "titel": "Prof."})
	pending := e.therapist(map[string]any{"nachname": "Pending", "email": "p@example.org"})
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES ($1, 1)`, pending)
	cooling := e.therapist(map[string]any{"nachname": "Cooling", "email": "c@example.org"})
	e.exec(`INSERT INTO matching_service.therapeut_kontaktsperre (therapist_id, naechster_kontakt_moeglich, grund) VALUES ($1, '2025-08-20', 'manual')`, cooling)
	e.therapist(map[string]any{"nachname": "Anrufer", "email": nil, "potenziell_verfuegbar": true})
	e.therapist(map[string]any{"nachname": "Zander", "email": "z@example.org", "ueber_curavani_informiert": false})
	e.therapist(map[string]any{"nachname": "Hamburg", "plz": "20095", "email": "h@example.org"})
	tid := e.therapist(map[string]any{"nachname": "Ziel", "email": "ziel@example.org", "alter_max": 60})

	n := 0
	add := func(overrides map[string]any) int64 {
		e.setNow(testNow.Add(time.Duration(n) * time.Minute))
		n++
		return e.search(e.patient(overrides))
	}
	for _, o := range []map[string]any{
		nil,
		{"plz": "20095", "ort": "Hamburg"},
		{"bevorzugtes_therapeutengeschlecht": "Männlich"},
		{"bevorzugtes_therapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie"},
		{"raeumliche_verfuegbarkeit": map[string]any{"max_km": 5}, "plz": "10999"},
		{"raeumliche_verfuegbarkeit": map[string]any{"max_km": nil}},
		{"geburtsdatum": "1950-01-01"},
		{"ausgeschlossene_therapeuten": []any{tid}},
		nil, nil, nil, nil, nil,
	} {
		add(o)
	}
	urgent := add(nil)
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", urgent), map[string]any{"prioritaet": 3}).must(e.t, 200)
	e.setNow(testNow)
	return tid
}

// The copy answers composition and the selection list as the services do,
// and with a warm copy it answers them with the patient and therapist
// services down, calling neither.
func TestCopy_compositionAndSelectionAnswerTheSameWithThePatientAndTherapistServicesDown(t *testing.T) {
	t.Parallel()
	plain := newEnv(t)
	var dir *directory.Directory
	copied := newEnv(t, withCopy(&dir))
	tid := copyScenario(plain)
	if got := copyScenario(copied); got != tid {
		t.Fatalf("scenarios differ: therapist %d and %d", tid, got)
	}
	sum, err := dir.Sync(context.Background())
	if err != nil || !sum.OK() {
		t.Fatalf("sync: %v %v", sum, err)
	}

	selection := "/api/therapeuten-zur-auswahl?plz_prefix=10"
	want := plain.do("GET", selection, nil).must(t, 200)
	for _, svc := range []string{fake.PatientService, fake.TherapistService} {
		copied.fake.SetDown(svc, true)
	}
	copied.fake.ResetCounts()
	got := copied.do("GET", selection, nil).must(t, 200)
	if d := cmp.Diff(want.body, got.body); d != "" {
		t.Errorf("selection list (-services +copy):\n%s", d)
	}

	compose := map[string]any{"therapist_id": tid, "plz_prefix": "10"}
	want = plain.do("POST", createPath, compose).must(t, 201)
	got = copied.do("POST", createPath, compose).must(t, 201)
	if d := cmp.Diff(want.body, got.body); d != "" {
		t.Errorf("composition (-services +copy):\n%s", d)
	}
	if ids := got.body["patient_ids"].([]any); num(t, ids[0]) != 14 {
		t.Errorf("patients %v: the urgent search (patient 14) comes first", ids)
	}
	calls := copied.fake.Counts()
	for ep := range calls {
		if ep == fake.CalculateDistance {
			delete(calls, ep)
		}
	}
	if len(calls) != 0 {
		t.Errorf("calls to the patient and therapist services with a warm copy: %v", calls)
	}

	// The copy holds the data matching composed from: a second composition
	// for a therapist never fetched is a 503 while the service is down.
	other := copied.therapist(map[string]any{"nachname": "Neu", "email": "neu@example.org"})
	copied.do("POST", createPath, map[string]any{"therapist_id": other, "plz_prefix": "10"}).must(t, 503)
}

// A composition meets a patient the copy lacks (her search came before the
// copy): it fetches her, stores her, and the next read needs no call.
func TestCopy_aMissingCopyIsFetchedOnUseAndStored(t *testing.T) {
	t.Parallel()
	var dir *directory.Directory
	e := newEnv(t, withCopy(&dir))
	tid := e.therapist(nil)
	pid := e.patient(nil)
	e.search(pid)
	e.exec(`DELETE FROM matching_service.patient_copy`)
	e.fake.ResetCounts()
	r := e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).must(t, 201)
	if d := cmp.Diff([]any{jsonNum(pid)}, r.body["patient_ids"]); d != "" {
		t.Errorf("patients (-want +got):\n%s", d)
	}
	if n := e.fake.Count(fake.GetPatient); n != 1 {
		t.Errorf("%d patient fetches, want 1", n)
	}
	if n := scalar[int](e, `SELECT count(*) FROM matching_service.patient_copy WHERE patient_id = $1 AND NOT removed`, pid); n != 1 {
		t.Errorf("patient not stored in the copy")
	}
}

func TestUpdateSearch_prioritaetIsSetAndShown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sid := e.search(e.patient(nil))
	path := fmt.Sprintf("/api/platzsuchen/%d", sid)
	e.do("PUT", path, map[string]any{"prioritaet": 7}).must(t, 200)
	if r := e.do("GET", path, nil).must(t, 200); r.body["prioritaet"] != jsonNum(7) {
		t.Errorf("detail prioritaet %v, want 7", r.body["prioritaet"])
	}
	r := e.do("GET", "/api/platzsuchen", nil).must(t, 200)
	if p := r.body["data"].([]any)[0].(map[string]any)["prioritaet"]; p != jsonNum(7) {
		t.Errorf("list prioritaet %v, want 7", p)
	}
	for body, msg := range map[string]any{
		`{"prioritaet": "hoch"}`:      map[string]any{"prioritaet": "invalid literal for int() with base 10: 'hoch'"},
		`{"prioritaet": 3000000000}`:  map[string]any{"prioritaet": "3000000000 is out of range: must be between -2147483647 and 2147483647"},
		`{"prioritaet": -2147483648}`: map[string]any{"prioritaet": "-2147483648 is out of range: must be between -2147483647 and 2147483647"},
	} {
		r := e.do("PUT", path, body).must(t, 400)
		if d := cmp.Diff(msg, r.body["message"]); d != "" {
			t.Errorf("%s: message (-want +got):\n%s", body, d)
		}
	}
	if r := e.do("GET", path, nil).must(t, 200); r.body["prioritaet"] != jsonNum(7) {
		t.Errorf("a refused PUT changed prioritaet to %v", r.body["prioritaet"])
	}
}
