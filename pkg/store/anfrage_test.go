package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func mustExec(t *testing.T, db store.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestCandidateSearches_oldestFirstTiesByIDWithoutPatientsInAnOpenAnfrageToTheTherapist(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Searches 1–6; 2 and 3 share a creation time; 4 is paused.
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, status, created_at) VALUES
		(1, 101, 'aktiv', $1::timestamp + interval '3 hours'),
		(3, 103, 'aktiv', $1::timestamp + interval '1 hour'),
		(2, 102, 'aktiv', $1::timestamp + interval '1 hour'),
		(4, 104, 'pausiert', $1),
		(5, 105, 'aktiv', $1::timestamp + interval '4 hours'),
		(6, 106, 'aktiv', $1::timestamp + interval '5 hours'),
		(7, 107, 'aktiv', $1::timestamp + interval '6 hours')`, t0)
	// Therapist 9: patient 105 in an open (sent, unanswered) anfrage, 106 in
	// an answered one, 107 in a cancelled one; therapist 8 has 101 open.
	mustExec(t, pool, `INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse, gesendet_datum, antwort_datum, storniert_datum) VALUES
		(10, 9, 1, $1, NULL, NULL), (11, 9, 1, $1, $1, NULL), (12, 9, 1, NULL, NULL, $1), (13, 8, 1, NULL, NULL, NULL)`, t0)
	mustExec(t, pool, `INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage) VALUES
		(10, 5, 105, 1), (11, 6, 106, 1), (12, 7, 107, 1), (13, 1, 101, 1)`)

	got, err := store.CandidateSearches(ctx, pool, 9)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, c := range got {
		ids = append(ids, c.SearchID)
	}
	if d := cmp.Diff([]int64{2, 3, 1, 6, 7}, ids); d != "" {
		t.Errorf("candidates (-want +got):\n%s", d)
	}
	open, err := store.OpenAnfrage(ctx, pool, 9)
	if err != nil || open != 10 {
		t.Errorf("open anfrage %d, %v", open, err)
	}
	pending, err := store.PendingTherapists(ctx, pool, []int64{7, 8, 9})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[int64]bool{8: true, 9: true}, pending); d != "" {
		t.Errorf("pending (-want +got):\n%s", d)
	}
}

func TestAddExclusion_appendsOnceWhateverTheShapeAlreadyThere(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, ausgeschlossene_therapeuten) VALUES
		(1, 1, '[]'), (2, 2, '[7]'), (3, 3, '[{"id": 7, "reason": "x"}]'), (4, 4, '[8, {"id": 9}]')`)
	entry := json.RawMessage(`{"id": 7, "excluded_at": "2025-08-12T10:00:00", "reason": "Rejected: abgelehnt_nicht_geeignet"}`)
	at := time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)
	n, err := store.AddExclusion(ctx, pool, []int64{1, 2, 3, 4}, 7, entry, at)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("%d lists changed, want 2", n)
	}
	// Twice is the same as once.
	if n, _ := store.AddExclusion(ctx, pool, []int64{1, 4}, 7, entry, at); n != 0 {
		t.Errorf("second addition changed %d lists", n)
	}
	rows, _ := pool.Query(ctx, `SELECT ausgeschlossene_therapeuten::text FROM matching_service.platzsuche ORDER BY id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`[{"id": 7, "reason": "Rejected: abgelehnt_nicht_geeignet", "excluded_at": "2025-08-12T10:00:00"}]`,
		`[7]`,
		`[{"id": 7, "reason": "x"}]`,
		`[8, {"id": 9}, {"id": 7, "reason": "Rejected: abgelehnt_nicht_geeignet", "excluded_at": "2025-08-12T10:00:00"}]`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("lists (-want +got):\n%s", d)
	}
}

func TestExtendCooling_neverShortensALongerManualPeriod(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	at := time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)
	note := "Elternzeit"
	if _, err := store.SetCooling(ctx, pool, 5, "2026-01-01", &note, at); err != nil {
		t.Fatal(err)
	}
	c, err := store.ExtendCooling(ctx, pool, 5, "2025-09-09", at)
	if err != nil {
		t.Fatal(err)
	}
	if c.Date != "2026-01-01" || c.Reason != "manual" || c.Note == nil || *c.Note != note {
		t.Errorf("after a response: %+v", c)
	}
	c, err = store.ExtendCooling(ctx, pool, 6, "2025-09-09", at)
	if err != nil || c.Date != "2025-09-09" || c.Reason != "response_received" {
		t.Errorf("new row %+v, %v", c, err)
	}
	// A manual date may also end a period early.
	c, err = store.SetCooling(ctx, pool, 6, "2025-08-01", nil, at)
	if err != nil || c.Date != "2025-08-01" || c.Reason != "manual" {
		t.Errorf("manual override %+v, %v", c, err)
	}
}

func TestInsertAnfrage_eachEntryGetsTheRowOfItsPositionAndLeftSearchesAreSkipped(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	at := time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)
	// Search 2 is paused: it is left out and the others close up.
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, status) VALUES
		(1, 101, 'aktiv'), (2, 102, 'pausiert'), (3, 103, 'aktiv'), (4, 104, 'aktiv')`)
	var (
		a       store.Anfrage
		entries []store.AnfrageEntry
		ok      bool
	)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		a, entries, ok, err = store.InsertAnfrage(ctx, tx, 9, []int64{4, 2, 1, 3}, at)
		return err
	})
	if err != nil || !ok {
		t.Fatalf("insert: ok %v, %v", ok, err)
	}
	rows, _ := pool.Query(ctx, `SELECT id, platzsuche_id, patient_id, position_in_anfrage
		FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = $1 ORDER BY position_in_anfrage`, a.ID)
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) ([4]int64, error) {
		var v [4]int64
		err := r.Scan(&v[0], &v[1], &v[2], &v[3])
		return v, err
	})
	if err != nil {
		t.Fatal(err)
	}
	var got [][4]int64
	for _, e := range entries {
		if e.AnfrageID != a.ID {
			t.Errorf("entry %+v of anfrage %d", e, a.ID)
		}
		got = append(got, [4]int64{e.ID, e.SearchID, e.PatientID, int64(e.Position)})
	}
	if d := cmp.Diff(stored, got); d != "" {
		t.Errorf("entries (-stored +returned):\n%s", d)
	}
	var searches []int64
	for _, e := range entries {
		searches = append(searches, e.SearchID)
	}
	if d := cmp.Diff([]int64{4, 1, 3}, searches); d != "" {
		t.Errorf("searches by position (-want +got):\n%s", d)
	}
	if a.Size != 3 {
		t.Errorf("anfragegroesse %d", a.Size)
	}
}
