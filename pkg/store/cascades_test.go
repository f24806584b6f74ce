package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// The fixtures of this file are prefixed casc to stay apart from the other
// test files of the package.

func cascSearch(t testing.TB, pool *pgxpool.Pool, patientID int64, status string, notes *string, exclusions string) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `
		INSERT INTO matching_service.platzsuche (patient_id, status, notizen, ausgeschlossene_therapeuten)
		VALUES ($1, $2::suchstatus, $3, $4::jsonb) RETURNING id`,
		patientID, status, notes, exclusions).Scan(&id)
	if err != nil {
		t.Fatalf("insert search: %v", err)
	}
	return id
}

type cascAnfrageRow struct {
	therapist                 int64
	sent, answered, cancelled bool
	notes                     *string
	emailID                   *int64
}

func cascAnfrage(t testing.TB, pool *pgxpool.Pool, a cascAnfrageRow, searches ...int64) int64 {
	t.Helper()
	ctx := context.Background()
	past := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	var sent, answered, cancelled *time.Time
	if a.sent {
		sent = &past
	}
	if a.answered {
		answered = &past
	}
	if a.cancelled {
		cancelled = &past
	}
	var id int64
	err := pool.QueryRow(ctx, `
		INSERT INTO matching_service.therapeutenanfrage
		    (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, storniert_datum, notizen, email_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		a.therapist, max(len(searches), 1), sent, answered, cancelled, a.notes, a.emailID).Scan(&id)
	if err != nil {
		t.Fatalf("insert anfrage: %v", err)
	}
	for i, s := range searches {
		_, err := pool.Exec(ctx, `
			INSERT INTO matching_service.therapeut_anfrage_patient
			    (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
			SELECT $1, id, patient_id, $3 FROM matching_service.platzsuche WHERE id = $2`, id, s, i+1)
		if err != nil {
			t.Fatalf("insert anfrage patient: %v", err)
		}
	}
	return id
}

func cascTx[T any](t testing.TB, pool *pgxpool.Pool, fn func(tx pgx.Tx) (T, error)) T {
	t.Helper()
	var out T
	err := store.WithTx(context.Background(), pool, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	if err != nil {
		t.Fatalf("transaction: %v", err)
	}
	return out
}

func cascPtr[T any](v T) *T { return &v }

func TestCancelPatientSearches_cancelsAktivAndPausiertAndAppendsTheNote(t *testing.T) {
	pool, _ := storetest.New(t)
	ctx := context.Background()
	aktiv := cascSearch(t, pool, 7, "aktiv", nil, "[]")
	pausiert := cascSearch(t, pool, 7, "pausiert", cascPtr("[2025-01-01 10:00 (API)] first"), "[]")
	done := cascSearch(t, pool, 7, "erfolgreich", nil, "[]")
	other := cascSearch(t, pool, 8, "aktiv", nil, "[]")
	at := time.Date(2025, 8, 11, 9, 44, 0, 123456000, time.UTC)

	got := cascTx(t, pool, func(tx pgx.Tx) ([]store.CancelledSearch, error) {
		return store.CancelPatientSearches(ctx, tx, 7, "NOTE", at)
	})
	want := []store.CancelledSearch{{ID: aktiv, PatientID: 7, OldStatus: "aktiv"}, {ID: pausiert, PatientID: 7, OldStatus: "pausiert"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("cancelled searches (-want +got):\n%s", diff)
	}

	type row struct {
		Status  string
		Notes   *string
		Updated *time.Time
	}
	read := func(id int64) row {
		var r row
		if err := pool.QueryRow(ctx, `SELECT status::text, notizen, updated_at FROM matching_service.platzsuche WHERE id = $1`, id).
			Scan(&r.Status, &r.Notes, &r.Updated); err != nil {
			t.Fatal(err)
		}
		return r
	}
	wantRows := map[int64]row{
		aktiv:    {"abgebrochen", cascPtr("NOTE"), &at},
		pausiert: {"abgebrochen", cascPtr("[2025-01-01 10:00 (API)] first\nNOTE"), &at},
		done:     {"erfolgreich", nil, nil},
		other:    {"aktiv", nil, nil},
	}
	for id, w := range wantRows {
		if diff := cmp.Diff(w, read(id)); diff != "" {
			t.Errorf("search %d (-want +got):\n%s", id, diff)
		}
	}

	again := cascTx(t, pool, func(tx pgx.Tx) ([]store.CancelledSearch, error) {
		return store.CancelPatientSearches(ctx, tx, 7, "NOTE", at)
	})
	if len(again) != 0 {
		t.Fatalf("second cancel changed %v, want nothing", again)
	}
}

func TestExcludeTherapistFromOpenAnfragen_appendsOnceToOpenSearchesOfOpenAnfragen(t *testing.T) {
	pool, _ := storetest.New(t)
	ctx := context.Background()
	const tid = 42
	unsent := cascSearch(t, pool, 1, "aktiv", nil, "[]")
	pending := cascSearch(t, pool, 2, "pausiert", nil, `[5, {"id": 6, "excluded_at": "2025-01-01T00:00:00", "reason": "x"}]`)
	asInt := cascSearch(t, pool, 3, "aktiv", nil, `[42.0]`)
	asObject := cascSearch(t, pool, 4, "aktiv", nil, `[{"id": 42, "excluded_at": "2025-01-01T00:00:00", "reason": null}]`)
	closed := cascSearch(t, pool, 5, "abgebrochen", nil, "[]")
	answered := cascSearch(t, pool, 6, "aktiv", nil, "[]")
	cancelled := cascSearch(t, pool, 7, "aktiv", nil, "[]")
	otherTherapist := cascSearch(t, pool, 8, "aktiv", nil, "[]")
	cascAnfrage(t, pool, cascAnfrageRow{therapist: tid}, unsent, closed)
	cascAnfrage(t, pool, cascAnfrageRow{therapist: tid, sent: true}, pending, asInt, asObject)
	cascAnfrage(t, pool, cascAnfrageRow{therapist: tid, sent: true, answered: true}, answered)
	cascAnfrage(t, pool, cascAnfrageRow{therapist: tid, cancelled: true}, cancelled)
	cascAnfrage(t, pool, cascAnfrageRow{therapist: 43}, otherTherapist)
	entry := []byte(`{"id": 42, "excluded_at": "2025-08-11T09:44:00", "reason": "Therapist blocked: r"}`)
	at := time.Date(2025, 8, 11, 9, 44, 0, 0, time.UTC)

	got := cascTx(t, pool, func(tx pgx.Tx) ([]int64, error) {
		return store.ExcludeTherapistFromOpenAnfragen(ctx, tx, tid, entry, at)
	})
	if diff := cmp.Diff([]int64{unsent, pending}, got); diff != "" {
		t.Fatalf("changed searches (-want +got):\n%s", diff)
	}
	lists := map[int64]string{
		unsent:         `[{"id": 42, "reason": "Therapist blocked: r", "excluded_at": "2025-08-11T09:44:00"}]`,
		pending:        `[5, {"id": 6, "reason": "x", "excluded_at": "2025-01-01T00:00:00"}, {"id": 42, "reason": "Therapist blocked: r", "excluded_at": "2025-08-11T09:44:00"}]`,
		asInt:          `[42.0]`,
		asObject:       `[{"id": 42, "reason": null, "excluded_at": "2025-01-01T00:00:00"}]`,
		closed:         `[]`,
		answered:       `[]`,
		cancelled:      `[]`,
		otherTherapist: `[]`,
	}
	for id, want := range lists {
		var list string
		if err := pool.QueryRow(ctx, `SELECT ausgeschlossene_therapeuten::text FROM matching_service.platzsuche WHERE id = $1`, id).Scan(&list); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, want, list) {
			t.Errorf("search %d: list %s, want %s", id, list, want)
		}
	}

	again := cascTx(t, pool, func(tx pgx.Tx) ([]int64, error) {
		return store.ExcludeTherapistFromOpenAnfragen(ctx, tx, tid, entry, at)
	})
	if len(again) != 0 {
		t.Fatalf("second exclusion changed %v, want nothing", again)
	}
}

func jsonEqual(t testing.TB, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return cmp.Equal(va, vb)
}

func TestCancelUnsentAnfragen_cancelsOnlyUnsentNotYetCancelledAnfragenOfTheTherapist(t *testing.T) {
	pool, _ := storetest.New(t)
	ctx := context.Background()
	unsent := cascAnfrage(t, pool, cascAnfrageRow{therapist: 42})
	withNotes := cascAnfrage(t, pool, cascAnfrageRow{therapist: 42, notes: cascPtr("old")})
	sent := cascAnfrage(t, pool, cascAnfrageRow{therapist: 42, sent: true})
	cancelled := cascAnfrage(t, pool, cascAnfrageRow{therapist: 42, cancelled: true, notes: cascPtr("before")})
	other := cascAnfrage(t, pool, cascAnfrageRow{therapist: 43})
	at := time.Date(2025, 8, 11, 9, 44, 0, 0, time.UTC)

	got := cascTx(t, pool, func(tx pgx.Tx) ([]int64, error) {
		return store.CancelUnsentAnfragen(ctx, tx, 42, "Urlaub", "NOTE", at)
	})
	if diff := cmp.Diff([]int64{unsent, withNotes}, got); diff != "" {
		t.Fatalf("cancelled anfragen (-want +got):\n%s", diff)
	}
	type row struct {
		Cancelled *time.Time
		Reason    *string
		Notes     *string
	}
	past := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	want := map[int64]row{
		unsent:    {&at, cascPtr("Urlaub"), cascPtr("NOTE")},
		withNotes: {&at, cascPtr("Urlaub"), cascPtr("old\nNOTE")},
		sent:      {},
		cancelled: {&past, nil, cascPtr("before")},
		other:     {},
	}
	for id, w := range want {
		var r row
		if err := pool.QueryRow(ctx, `SELECT storniert_datum, storniert_grund, notizen FROM matching_service.therapeutenanfrage WHERE id = $1`, id).
			Scan(&r.Cancelled, &r.Reason, &r.Notes); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(w, r); diff != "" {
			t.Errorf("anfrage %d (-want +got):\n%s", id, diff)
		}
	}
}

func TestNoteAnfragenByEmail_notesTheAnfrageOfTheEmailOnly(t *testing.T) {
	pool, _ := storetest.New(t)
	ctx := context.Background()
	mine := cascAnfrage(t, pool, cascAnfrageRow{therapist: 1, sent: true, emailID: cascPtr(int64(900)), notes: cascPtr("a")})
	other := cascAnfrage(t, pool, cascAnfrageRow{therapist: 1, sent: true, emailID: cascPtr(int64(901))})

	got := cascTx(t, pool, func(tx pgx.Tx) ([]int64, error) {
		return store.NoteAnfragenByEmail(ctx, tx, 900, "NOTE")
	})
	if diff := cmp.Diff([]int64{mine}, got); diff != "" {
		t.Fatalf("noted anfragen (-want +got):\n%s", diff)
	}
	for id, want := range map[int64]*string{mine: cascPtr("a\nNOTE"), other: nil} {
		var notes *string
		if err := pool.QueryRow(ctx, `SELECT notizen FROM matching_service.therapeutenanfrage WHERE id = $1`, id).Scan(&notes); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, notes); diff != "" {
			t.Errorf("anfrage %d notes (-want +got):\n%s", id, diff)
		}
	}
}
