package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// recorded is one history row as the tests compare it.
type recorded struct {
	Table, Op string
	RowID     int64
	Cause     map[string]any
}

// historyOf returns the history rows of search id (its own rows and its
// anfrage patient rows), in write order.
func historyOf(t testing.TB, pool *pgxpool.Pool, search int64) []recorded {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT tbl, op, row_id, cause FROM matching_service.history
		WHERE platzsuche_id = $1 ORDER BY id`, search)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (recorded, error) {
		var x recorded
		var cause []byte
		err := r.Scan(&x.Table, &x.Op, &x.RowID, &cause)
		if err == nil {
			err = json.Unmarshal(cause, &x.Cause)
		}
		return x, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A change made outside matching's code (psql) is recorded with cause
// unknown and who made it; one inside a transaction begun with a cause in
// its context records that cause.
func TestHistory_psqlChangesAreUnknownAndTheContextsCauseIsRecorded(t *testing.T) {
	t.Parallel()
	pool := patientWithSearches(t, "aktiv")
	ctx := context.Background()
	mustExec(t, pool, `SET application_name = 'psql'`)
	if _, err := pool.Exec(ctx, `UPDATE matching_service.platzsuche SET notizen = 'by hand' WHERE id = 1`); err != nil {
		t.Fatal(err)
	}
	api := store.Cause{Kind: store.CauseAPI, Method: "PUT", Path: "/api/platzsuchen/1", RequestID: "r-1", Token: "ops"}
	err := store.WithTx(store.WithCause(ctx, api), pool, func(tx pgx.Tx) error {
		return store.SetSearchStatus(ctx, tx, 1, "pausiert", nil, changedAt)
	})
	if err != nil {
		t.Fatal(err)
	}
	got := historyOf(t, pool, 1)
	want := []recorded{
		{"platzsuche", "INSERT", 1, map[string]any{"kind": "unknown", "user": "postgres"}},
		{"platzsuche", "UPDATE", 1, map[string]any{"kind": "unknown", "user": "postgres"}},
		{"platzsuche", "UPDATE", 1, map[string]any{"kind": "api", "method": "PUT", "path": "/api/platzsuchen/1", "request_id": "r-1", "token": "ops"}},
	}
	// The pool's sessions name no application; one that did is recorded.
	for i := range want {
		if app, ok := got[i].Cause["application"]; ok {
			want[i].Cause["application"] = app
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}
}

// Several causes in one transaction (a batch of events): each change is
// attributed to the cause set before its statement.
func TestHistory_setCauseAttributesEachPartOfATransaction(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id) VALUES (1, 1), (2, 2)`)
	a := store.Cause{Kind: store.CauseEvent, Type: "patient.deleted", DedupeKey: "event:a", Source: "s", Consumer: "c"}
	b := store.Cause{Kind: store.CauseEvent, Type: "patient.deleted", DedupeKey: "event:b", Source: "s", Consumer: "c"}
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		for i, c := range []store.Cause{a, b} {
			if err := store.SetCause(ctx, tx, c); err != nil {
				return err
			}
			if _, err := store.CancelPatientSearches(ctx, tx, int64(i+1), "x", changedAt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for search, key := range map[int64]string{1: "event:a", 2: "event:b"} {
		h := historyOf(t, pool, search)
		if len(h) != 2 || h[1].Op != "UPDATE" || h[1].Cause["dedupe_key"] != key {
			t.Errorf("search %d: history %v, want its cancellation caused by %s", search, h, key)
		}
	}
}

// An UPDATE that changes nothing is not a change; a deleted search takes its
// anfrage patient rows with it, and the history of all of them stays.
func TestHistory_noOpUpdatesAreLeftOutAndDeletionsKeepTheHistory(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	mustExec(t, pool, `
		INSERT INTO matching_service.platzsuche (id, patient_id) VALUES (1, 7);
		INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse) VALUES (10, 3, 1);
		INSERT INTO matching_service.therapeut_anfrage_patient (id, therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
		VALUES (100, 10, 1, 7, 1);
		UPDATE matching_service.platzsuche SET status = status;`)
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, err := store.DeleteSearch(ctx, tx, 1)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, r := range historyOf(t, pool, 1) {
		ops = append(ops, r.Table+" "+r.Op)
	}
	// The cascade's deletion is written after the search's (it runs in the
	// foreign key's trigger, at the end of the search's statement).
	want := []string{"platzsuche INSERT", "therapeut_anfrage_patient INSERT", "platzsuche DELETE", "therapeut_anfrage_patient DELETE"}
	if d := cmp.Diff(want, ops); d != "" {
		t.Errorf("history of the deleted search (-want +got):\n%s", d)
	}
	items, total, err := store.Timeline(ctx, pool, store.EntitySearch, 1, 20, 0)
	if err != nil || total != 4 || len(items) != 4 || items[2].Change == nil || items[2].Change.Op != "DELETE" {
		t.Fatalf("timeline after deletion: %d of %d items, %v", len(items), total, err)
	}
	var before map[string]any
	if err := json.Unmarshal(items[2].Change.Before, &before); err != nil || before["patient_id"] != 7.0 {
		t.Errorf("the deleted row is kept whole: %s (%v)", items[2].Change.Before, err)
	}
}

// ?stand= reads: before the search existed it is not found; between two
// changes it is as the first left it; after the last, as it is now; after
// its deletion, not found again, while an instant before that still shows
// it.
func TestGetSearchAt_beforeBetweenAndAfterChanges(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	instant := func() time.Time {
		var at time.Time
		if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&at); err != nil {
			t.Fatal(err)
		}
		return at
	}
	beforeCreation := instant()
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, notizen) VALUES (1, 7, 'first')`)
	mustExec(t, pool, `INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse) VALUES (10, 3, 1)`)
	mustExec(t, pool, `INSERT INTO matching_service.therapeut_anfrage_patient (id, therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
		VALUES (100, 10, 1, 7, 1)`)
	between := instant()
	mustExec(t, pool, `UPDATE matching_service.platzsuche SET notizen = 'second', status = 'pausiert' WHERE id = 1`)
	mustExec(t, pool, `UPDATE matching_service.therapeut_anfrage_patient SET status = 'abgelehnt' WHERE id = 100`)
	after := instant()

	if _, err := store.GetSearchAt(ctx, pool, 1, beforeCreation); fault.KindOf(err) != fault.NotFound {
		t.Errorf("before creation: %v, want not found", err)
	}
	type view struct {
		Status, Notes  string
		Active, Total  int
		EntryStatuses  []string
		EntryAnfragen  []int64
		ExclusionCount int
	}
	read := func(at time.Time) view {
		t.Helper()
		s, err := store.GetSearchAt(ctx, pool, 1, at)
		if err != nil {
			t.Fatalf("at %s: %v", at, err)
		}
		es, err := store.SearchEntriesAt(ctx, pool, 1, at)
		if err != nil {
			t.Fatal(err)
		}
		v := view{Status: s.Status, Notes: *s.Notes, Active: s.ActiveAnfragen, Total: s.TotalAnfragen, ExclusionCount: s.ExclusionListLength}
		for _, e := range es {
			v.EntryStatuses = append(v.EntryStatuses, e.Status)
			v.EntryAnfragen = append(v.EntryAnfragen, e.AnfrageID)
		}
		return v
	}
	if d := cmp.Diff(view{"aktiv", "first", 1, 1, []string{"anstehend"}, []int64{10}, 0}, read(between)); d != "" {
		t.Errorf("between (-want +got):\n%s", d)
	}
	if d := cmp.Diff(view{"pausiert", "second", 0, 1, []string{"abgelehnt"}, []int64{10}, 0}, read(after)); d != "" {
		t.Errorf("after (-want +got):\n%s", d)
	}
	// The time travel agrees with the live read.
	live, err := store.GetSearch(ctx, pool, 1)
	if err != nil {
		t.Fatal(err)
	}
	atNow, err := store.GetSearchAt(ctx, pool, 1, instant())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(live, atNow); d != "" {
		t.Errorf("now vs live (-live +at now):\n%s", d)
	}

	mustExec(t, pool, `DELETE FROM matching_service.platzsuche WHERE id = 1`)
	if _, err := store.GetSearchAt(ctx, pool, 1, instant()); fault.KindOf(err) != fault.NotFound {
		t.Errorf("after deletion: %v, want not found", err)
	}
	if v := read(after); v.Notes != "second" {
		t.Errorf("before the deletion, after the changes: %+v", v)
	}
}

// A cause PostgreSQL's jsonb could not hold as is (a NUL in an event id, a
// quote, a backslash) is still recorded, at the transaction's begin and when
// set later, instead of failing the change.
func TestHistory_anyCauseIsRecorded(t *testing.T) {
	t.Parallel()
	pool := patientWithSearches(t, "aktiv")
	ctx := context.Background()
	odd := store.Cause{Kind: store.CauseEvent, Type: "x", DedupeKey: "ce:/a\x00b#'1'\\", Source: `"quoted"`, Consumer: "c"}
	err := store.WithTx(store.WithCause(ctx, odd), pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE matching_service.platzsuche SET notizen = 'one' WHERE id = 1`); err != nil {
			return err
		}
		if err := store.SetCause(ctx, tx, odd); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE matching_service.platzsuche SET notizen = 'two' WHERE id = 1`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	h := historyOf(t, pool, 1)
	if len(h) != 3 {
		t.Fatalf("history %v, want the insert and two updates", h)
	}
	for _, r := range h[1:] {
		if r.Cause["dedupe_key"] != "ce:/a\ufffdb#'1'\\" || r.Cause["source"] != `"quoted"` {
			t.Errorf("cause %v", r.Cause)
		}
	}
}
