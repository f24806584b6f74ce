package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// TestOneActiveSearch_createAndResumeAreRefusedWithTheSameError checks that
// the store, not its callers, turns the partial unique index into the
// refusal: a fault.Conflict naming the patient's aktiv search, whether the
// second aktiv search would be created or resumed.
func TestOneActiveSearch_createAndResumeAreRefusedWithTheSameError(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	at := time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, status) VALUES (1, 7, 'pausiert'), (2, 7, 'aktiv')`)

	_, createErr := store.CreateSearch(ctx, pool, 7, nil, at)
	resumeErr := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return store.SetSearchStatus(ctx, tx, 1, "aktiv", nil, at)
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
	var statuses string
	if err := pool.QueryRow(ctx, `SELECT string_agg(status::text, ',' ORDER BY id) FROM matching_service.platzsuche`).Scan(&statuses); err != nil || statuses != "pausiert,aktiv" {
		t.Errorf("statuses %q, %v", statuses, err)
	}
}

func TestSetSearchStatus_concurrentResumptionsOfOnePatientResumeOne(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	ctx := context.Background()
	at := time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, status) VALUES (1, 7, 'pausiert'), (2, 7, 'pausiert')`)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				// The transaction goes on after the refusal: the savepoint
				// kept it usable.
				if err := store.SetSearchStatus(ctx, tx, int64(i+1), "aktiv", nil, at); err != nil {
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
	var active int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'aktiv'`).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if refused != 1 || active != 1 {
		t.Errorf("%d refused, %d aktiv; want 1 and 1", refused, active)
	}
}
