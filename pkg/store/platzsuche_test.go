package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

var changedAt = time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)

// patientWithSearches is a fresh database in which patient 7 has searches
// 1, 2, … with the given statuses.
func patientWithSearches(t *testing.T, statuses ...string) *pgxpool.Pool {
	t.Helper()
	pool, _ := storetest.New(t)
	for i, st := range statuses {
		mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, status) VALUES ($1, 7, $2::text::suchstatus)`, i+1, st)
	}
	return pool
}

// TestOneActiveSearch_createAndResumeAreRefusedWithTheSameError checks that
// the store, not its callers, turns the partial unique index into the
// refusal: a fault.Conflict naming the patient's aktiv search, whether the
// second aktiv search would be created or resumed.
func TestOneActiveSearch_createAndResumeAreRefusedWithTheSameError(t *testing.T) {
	t.Parallel()
	pool := patientWithSearches(t, "pausiert", "aktiv")
	ctx := context.Background()

	_, createErr := store.CreateSearch(ctx, pool, 7, nil, changedAt)
	resumeErr := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return store.SetSearchStatus(ctx, tx, 1, "aktiv", nil, changedAt)
	})
	for name, err := range map[string]error{"create": createErr, "resume": resumeErr} {
		fe := fault.As(err)
		if fe == nil || !errors.Is(err, store.ErrOneActiveSearch) {
			t.Fatalf("%s: %v, want the one-active-search refusal", name, err)
		}
		want := map[string]any{"search_id": int64(2)}
		if fe.Kind != fault.Conflict || fe.Message != "Patient already has an active search" || !cmp.Equal(want, fe.Extra) {
			t.Errorf("%s: kind %v, message %q, extra %v", name, fe.Kind, fe.Message, fe.Extra)
		}
	}
	if got := statuses(t, pool); got != "pausiert,aktiv" {
		t.Errorf("statuses %q after the refusals", got)
	}
}

func TestSetSearchStatus_concurrentResumptionsOfOnePatientResumeOne(t *testing.T) {
	t.Parallel()
	pool := patientWithSearches(t, "pausiert", "pausiert")
	ctx := context.Background()

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				// The transaction goes on after the refusal: the savepoint
				// kept it usable.
				if err := store.SetSearchStatus(ctx, tx, int64(i+1), "aktiv", nil, changedAt); err != nil {
					if _, err2 := tx.Exec(ctx, `SELECT 1`); err2 != nil {
						return err2
					}
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	refused := 0
	for _, err := range errs {
		switch {
		case err == nil:
		case errors.Is(err, store.ErrOneActiveSearch):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if got := statuses(t, pool); refused != 1 || (got != "aktiv,pausiert" && got != "pausiert,aktiv") {
		t.Errorf("%d refused, statuses %q; want one refused and one aktiv", refused, got)
	}
}

// statuses lists the statuses of the searches by id, comma-separated.
func statuses(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), `SELECT string_agg(status::text, ',' ORDER BY id) FROM matching_service.platzsuche`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}
