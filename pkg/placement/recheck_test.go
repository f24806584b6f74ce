package placement_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// copyNow is the clock of the copy's tests: patients of fake.SamplePatient
// are 35.
var copyNow = time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)

// copyWorld is a placement service that keeps matching's copy, on a fresh
// database and the fake neighbours, with MAX_ANFRAGE_SIZE 2.
type copyWorld struct {
	t    *testing.T
	pool *pgxpool.Pool
	fake *fake.Fake
	dir  *directory.Directory
	svc  *placement.Service
}

func newCopyWorld(t *testing.T) *copyWorld {
	t.Helper()
	pool, _ := storetest.New(t)
	f, ncfg := fake.Start(t)
	clients := neighbours.NewClients(ncfg)
	dir := directory.New(pool, clients, nil)
	svc := placement.New(placement.Config{
		Pool: pool, Patients: clients.Patients, Therapists: clients.Therapists, Distances: clients.Distances,
		Communication: clients.Communication, Directory: dir,
		Matching: config.Matching{MinAnfrageSize: 1, MaxAnfrageSize: 2, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
			CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00", Timezone: "Europe/Berlin"},
		Now: func() time.Time { return copyNow },
	})
	return &copyWorld{t: t, pool: pool, fake: f, dir: dir, svc: svc}
}

// patient adds a patient (fake.SamplePatient with overrides) and starts
// her search; searches are created one minute apart, in call order.
func (w *copyWorld) patient(overrides map[string]any) int64 {
	w.t.Helper()
	id := w.fake.AddPatient(fake.SamplePatient(overrides))
	s, err := w.svc.CreateSearch(context.Background(), placement.NewSearch{PatientID: id})
	if err != nil {
		w.t.Fatal(err)
	}
	w.exec(`UPDATE matching_service.platzsuche SET created_at = $2 WHERE id = $1`,
		s.ID, copyNow.Add(time.Duration(s.ID)*time.Minute))
	return id
}

func (w *copyWorld) exec(sql string, args ...any) {
	w.t.Helper()
	if _, err := w.pool.Exec(context.Background(), sql, args...); err != nil {
		w.t.Fatalf("%s: %v", sql, err)
	}
}

// anfrage composes an anfrage for the therapist in PLZ area 10.
func (w *copyWorld) anfrage(therapistID int64) int64 {
	w.t.Helper()
	a, err := w.svc.CreateAnfrage(context.Background(), placement.NewAnfrage{TherapistID: therapistID, PLZPrefix: "10"})
	if err != nil {
		w.t.Fatal(err)
	}
	return a.Anfrage.ID
}

// changePatient changes the patient in the patient service and handles
// its patient.updated as the consumer does: fetch, store in a
// transaction, apply the re-checks after the commit.
func (w *copyWorld) changePatient(id int64, fields map[string]any) {
	w.t.Helper()
	w.fake.SetPatientFields(id, fields)
	f, err := w.dir.FetchPatient(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	w.store(func(tx pgx.Tx) (directory.Stored, error) {
		return w.dir.StorePatient(context.Background(), tx, f, events.PatientUpdated)
	})
}

// changeTherapist does the same for a therapist.updated.
func (w *copyWorld) changeTherapist(id int64, fields map[string]any) {
	w.t.Helper()
	w.fake.SetTherapistFields(id, fields)
	f, err := w.dir.FetchTherapist(context.Background(), id)
	if err != nil {
		w.t.Fatal(err)
	}
	w.store(func(tx pgx.Tx) (directory.Stored, error) {
		return w.dir.StoreTherapist(context.Background(), tx, f, events.TherapistUpdated)
	})
}

func (w *copyWorld) store(fn func(tx pgx.Tx) (directory.Stored, error)) {
	w.t.Helper()
	var st directory.Stored
	err := store.WithTx(context.Background(), w.pool, func(tx pgx.Tx) error {
		var err error
		st, err = fn(tx)
		return err
	})
	if err != nil {
		w.t.Fatal(err)
	}
	if st.Recheck != 0 {
		w.svc.ApplyRechecks(context.Background(), []int64{st.Recheck})
	}
	if n := w.count(`SELECT count(*) FROM matching_service.recheck_request`); n != 0 {
		w.t.Fatalf("%d re-check requests left after applying", n)
	}
}

func (w *copyWorld) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// members are the patients of anfrage id by position, with its size and
// notes ("" when deleted).
type members struct {
	Patients []int64
	Size     int
	Notes    string
}

func (w *copyWorld) members(id int64) members {
	w.t.Helper()
	var m members
	var notes *string
	err := w.pool.QueryRow(context.Background(), `
		SELECT anfragegroesse, notizen,
		       COALESCE((SELECT array_agg(patient_id ORDER BY position_in_anfrage)
		                 FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = a.id), '{}')
		FROM matching_service.therapeutenanfrage a WHERE id = $1`, id).Scan(&m.Size, &notes, &m.Patients)
	if err == pgx.ErrNoRows {
		return members{}
	}
	if err != nil {
		w.t.Fatal(err)
	}
	if notes != nil {
		m.Notes = *notes
	}
	// Positions are 1..n.
	if n := w.count(`SELECT count(*) FROM matching_service.therapeut_anfrage_patient
		WHERE therapeutenanfrage_id = $1 AND position_in_anfrage > $2`, id, len(m.Patients)); n != 0 {
		w.t.Errorf("anfrage %d: positions beyond its %d patients", id, len(m.Patients))
	}
	return m
}

// changes are the composition_changed events in the outbox, decoded.
func (w *copyWorld) changes() []events.AnfrageCompositionChangedData {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `
		SELECT partition_key, payload FROM matching_service.outbox WHERE event_type = $1 ORDER BY seq`,
		events.AnfrageCompositionChanged)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []events.AnfrageCompositionChangedData
	for rows.Next() {
		var key string
		var payload []byte
		if err := rows.Scan(&key, &payload); err != nil {
			w.t.Fatal(err)
		}
		var d events.AnfrageCompositionChangedData
		if err := json.Unmarshal(payload, &d); err != nil {
			w.t.Fatal(err)
		}
		if key != fmt.Sprint(d.AnfrageID) {
			w.t.Errorf("event key %s, want the anfrage id %d", key, d.AnfrageID)
		}
		out = append(out, d)
	}
	return out
}

func removedNote(patient int64, reason string) string {
	return fmt.Sprintf("[2025-08-12 10:00 (System)] Removed patient %d: %s", patient, reason)
}

// Each hard constraint, broken by a change of the patient, takes her out
// of the unsent anfrage; the next patient of the queue takes her place.
func TestRecheck_aPatientChangeBreakingEachHardConstraintRemovesHerAndRefills(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		therapist map[string]any // overrides of fake.SampleTherapist (weiblich, Verhaltenstherapie, 10117)
		patient   map[string]any // overrides of the first patient, before the change
		change    map[string]any
		reason    string
	}{
		"distance": {nil, nil, map[string]any{"strasse": "Am Rand 1", "plz": "10999"},
			"distance 88.2 km exceeds the patient's 25 km"},
		"exclusion": {nil, nil, map[string]any{"ausgeschlossene_therapeuten": []any{"THERAPIST"}},
			"therapist excluded by the patient"},
		"her gender preference": {nil, nil, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"},
			"patient prefers Männlich, therapist is weiblich"},
		"his gender preference": {map[string]any{"geschlechtspraeferenz": "Männlich"}, nil, map[string]any{"geschlecht": "weiblich"},
			"therapist prefers Männlich, patient is weiblich"},
		"procedure": {nil, nil, map[string]any{"bevorzugtes_therapieverfahren": "Analytische_Psychotherapie"},
			"patient prefers Analytische_Psychotherapie, therapist offers Verhaltenstherapie"},
		"age": {map[string]any{"alter_max": 40}, nil, map[string]any{"geburtsdatum": "1960-01-01"},
			"patient aged 65, therapist takes up to 40"},
		"group": {map[string]any{"bevorzugt_gruppentherapie": true}, nil, map[string]any{"offen_fuer_gruppentherapie": false},
			"therapist prefers group therapy, patient is not open to it"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newCopyWorld(t)
			tid := w.fake.AddTherapist(fake.SampleTherapist(tc.therapist))
			first := w.patient(tc.patient)
			second := w.patient(nil)
			third := w.patient(nil)
			aid := w.anfrage(tid)
			if got := w.members(aid); !cmp.Equal(got.Patients, []int64{first, second}) {
				t.Fatalf("composed %v, want [%d %d]", got.Patients, first, second)
			}
			change := tc.change
			if excl, ok := change["ausgeschlossene_therapeuten"]; ok && excl != nil {
				change = map[string]any{"ausgeschlossene_therapeuten": []any{tid}}
			}
			w.changePatient(first, change)

			want := members{Patients: []int64{second, third}, Size: 2, Notes: removedNote(first, tc.reason)}
			if d := cmp.Diff(want, w.members(aid)); d != "" {
				t.Errorf("anfrage (-want +got):\n%s", d)
			}
			wantEv := []events.AnfrageCompositionChangedData{{AnfrageID: aid, TherapistID: tid,
				Removed: []events.RemovedPatient{{PatientID: first, Reason: tc.reason}}, Added: []int64{third}, AnfrageSize: 2}}
			if d := cmp.Diff(wantEv, w.changes()); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestRecheck_aChangeThatKeepsHerChangesNothingAndEmitsNothing(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	first := w.patient(nil)
	second := w.patient(nil)
	w.patient(nil)
	aid := w.anfrage(tid)
	before := w.members(aid)
	w.changePatient(first, map[string]any{"vorname": "Maxi", "krankenkasse": "TK", "bevorzugtes_therapeutengeschlecht": "Weiblich"})
	if d := cmp.Diff(members{Patients: []int64{first, second}, Size: 2}, before); d != "" {
		t.Fatalf("composed (-want +got):\n%s", d)
	}
	if d := cmp.Diff(before, w.members(aid)); d != "" {
		t.Errorf("anfrage changed (-before +after):\n%s", d)
	}
	if evs := w.changes(); len(evs) != 0 {
		t.Errorf("events %+v, want none", evs)
	}
}

func TestRecheck_aTherapistChangeRechecksAllHisUnsentAnfragenButNoSentOne(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	man1 := w.patient(nil)
	woman1 := w.patient(map[string]any{"geschlecht": "weiblich"})
	man2 := w.patient(nil)
	woman2 := w.patient(map[string]any{"geschlecht": "weiblich"})
	man3 := w.patient(nil)
	woman3 := w.patient(map[string]any{"geschlecht": "weiblich"})
	// Three anfragen to him from before: two unsent, one sent (older data;
	// composition allows one open anfrage per therapist).
	ctx := context.Background()
	ids := map[string]int64{}
	err := store.WithTx(ctx, w.pool, func(tx pgx.Tx) error {
		for _, a := range []struct {
			name     string
			patients []int64
		}{{"unsent1", []int64{man1, woman1}}, {"unsent2", []int64{man2}}, {"sent", []int64{man3, woman3}}} {
			name, patients := a.name, a.patients
			searches := make([]int64, len(patients))
			for i, p := range patients {
				if err := tx.QueryRow(ctx, `SELECT id FROM matching_service.platzsuche WHERE patient_id = $1`, p).Scan(&searches[i]); err != nil {
					return err
				}
			}
			a, _, _, err := store.InsertAnfrage(ctx, tx, tid, searches, copyNow)
			if err != nil {
				return err
			}
			ids[name] = a.ID
		}
		_, err := tx.Exec(ctx, `UPDATE matching_service.therapeutenanfrage SET gesendet_datum = $2 WHERE id = $1`, ids["sent"], copyNow)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sentBefore := w.members(ids["sent"])

	w.changeTherapist(tid, map[string]any{"geschlechtspraeferenz": "Weiblich"})

	reason := "therapist prefers Weiblich, patient is männlich"
	// Refills come from the queue in order, leaving out who sits in an
	// open anfrage to him: woman2 for the first; nobody left for the second,
	// which, left empty, is deleted.
	if d := cmp.Diff(members{Patients: []int64{woman1, woman2}, Size: 2, Notes: removedNote(man1, reason)}, w.members(ids["unsent1"])); d != "" {
		t.Errorf("first unsent anfrage (-want +got):\n%s", d)
	}
	if got := w.members(ids["unsent2"]); got.Patients != nil {
		t.Errorf("second unsent anfrage %+v, want deleted", got)
	}
	if d := cmp.Diff(sentBefore, w.members(ids["sent"])); d != "" {
		t.Errorf("sent anfrage changed (-before +after):\n%s", d)
	}
	want := []events.AnfrageCompositionChangedData{
		{AnfrageID: ids["unsent1"], TherapistID: tid, Removed: []events.RemovedPatient{{PatientID: man1, Reason: reason}}, Added: []int64{woman2}, AnfrageSize: 2},
		{AnfrageID: ids["unsent2"], TherapistID: tid, Removed: []events.RemovedPatient{{PatientID: man2, Reason: reason}}, Added: []int64{}, AnfrageSize: 0},
	}
	if d := cmp.Diff(want, w.changes()); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}

func TestRecheck_aSentAnfrageNeverChanges(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	first := w.patient(nil)
	w.patient(nil)
	w.patient(nil)
	aid := w.anfrage(tid)
	if _, err := w.svc.Send(context.Background(), aid); err != nil {
		t.Fatal(err)
	}
	before := w.members(aid)
	w.changePatient(first, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"})
	if d := cmp.Diff(before, w.members(aid)); d != "" {
		t.Errorf("sent anfrage changed (-before +after):\n%s", d)
	}
	if evs := w.changes(); len(evs) != 0 {
		t.Errorf("events %+v, want none", evs)
	}
}

func TestRecheck_aSearchNoLongerAktivLeavesAndRefillsKeepTheAnfragesArea(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	first := w.patient(nil)
	second := w.patient(nil)
	// Close by, but outside PLZ area 10 the anfrage was composed for.
	w.patient(map[string]any{"plz": "20095", "ort": "Hamburg"})
	w.fake.SetDistance("10117", "20095", 1)
	inArea := w.patient(nil)
	aid := w.anfrage(tid)

	ctx := context.Background()
	w.exec(`UPDATE matching_service.platzsuche SET status = 'abgebrochen' WHERE patient_id = $1`, first)
	// patient.deleted: the copy goes, her searches were cancelled.
	w.store(func(tx pgx.Tx) (directory.Stored, error) {
		return w.dir.RemovePatient(ctx, tx, first, events.PatientDeleted)
	})
	reason := "search is no longer aktiv (status abgebrochen)"
	if d := cmp.Diff(members{Patients: []int64{second, inArea}, Size: 2, Notes: removedNote(first, reason)}, w.members(aid)); d != "" {
		t.Errorf("anfrage (-want +got):\n%s", d)
	}
}

func TestRecheck_anOlderAnfrageWithoutItsPrefixRefillsFromItsTherapistsArea(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	first := w.patient(nil)
	second := w.patient(nil)
	w.patient(map[string]any{"plz": "20095", "ort": "Hamburg"})
	w.fake.SetDistance("10117", "20095", 1)
	inArea := w.patient(nil)
	aid := w.anfrage(tid)
	w.exec(`UPDATE matching_service.therapeutenanfrage SET plz_prefix = NULL WHERE id = $1`, aid)

	w.changePatient(first, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"})
	if got := w.members(aid).Patients; !cmp.Equal(got, []int64{second, inArea}) {
		t.Errorf("patients %v, want [%d %d] (area 10 of the therapist's 10117)", got, second, inArea)
	}
}

func TestQueue_prioritaetFirstThenTheLongestWaitingThenTheID(t *testing.T) {
	t.Parallel()
	w := newCopyWorld(t)
	tid := w.fake.AddTherapist(fake.SampleTherapist(nil))
	oldest := w.patient(nil)
	tieA := w.patient(nil)
	tieB := w.patient(nil)
	urgent := w.patient(nil)
	// tieA and tieB waited exactly as long; urgent came last but is urgent.
	w.exec(`UPDATE matching_service.platzsuche SET created_at = (SELECT created_at FROM matching_service.platzsuche WHERE patient_id = $1)
		WHERE patient_id = $2`, tieA, tieB)
	prio := 5
	var urgentSearch int64
	if err := w.pool.QueryRow(context.Background(), `SELECT id FROM matching_service.platzsuche WHERE patient_id = $1`, urgent).Scan(&urgentSearch); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.UpdateSearch(context.Background(), urgentSearch, placement.SearchChange{Priority: &prio}); err != nil {
		t.Fatal(err)
	}
	aid := w.anfrage(tid)
	if got := w.members(aid).Patients; !cmp.Equal(got, []int64{urgent, oldest}) {
		t.Errorf("composed %v, want [urgent %d, oldest %d]", got, urgent, oldest)
	}
	// A refill takes the tie by search id.
	w.changePatient(oldest, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"})
	if got := w.members(aid).Patients; !cmp.Equal(got, []int64{urgent, tieA}) {
		t.Errorf("after the refill %v, want [%d %d]", got, urgent, tieA)
	}
}
