package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// Pruning removes what is older than its retention, in batches (one row
// each here, so the batching is exercised), and keeps the rest: recent
// inbox rows, unpublished outbox rows however old, and of the old history
// each row's last state, so the state at any instant since the cutoff is
// still the same.
func TestPrune_keepsWhatItMustAndRemovesWhatItShould(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	storetest.SyntheticEvents(t) // outbox rows that only mark what is pruned
	ctx := context.Background()
	now := time.Now()
	day := 24 * time.Hour
	ago := func(days int) time.Time { return now.Add(-time.Duration(days) * day) }

	// The history began long ago; the event log's time grows with its
	// ids, as it does when the rows are written as things happen.
	mustExec(t, pool, `UPDATE matching_service.history_retention SET horizon = $1`, ago(100))
	mustExec(t, pool, `
		INSERT INTO matching_service.event_log (at, direction, event_type, payload) VALUES
		    ($1, 'consumed', 'old', '{}'), ($2, 'consumed', 'recent', '{}')`, ago(20), ago(2))
	mustExec(t, pool, `
		INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type, processed_at) VALUES
		    ('c', 'old-1', 'x', $1), ('c', 'old-2', 'x', $1), ('c', 'recent', 'x', $2)`, ago(31), ago(29))
	mustExec(t, pool, `
		INSERT INTO matching_service.outbox (event_type, partition_key, payload, created_at, published_at) VALUES
		    ('published-long-ago', '1', '{}', $1, $1), ('published-recently', '2', '{}', $1, $2),
		    ('never-published', '3', '{}', $1, NULL)`, ago(8), ago(6))

	// Search 1 was created 20 days ago and changed 15 and 2 days ago;
	// search 2 was created 20 days ago and deleted 12 days ago; search 3 was
	// created 20 days ago and never changed. The history is backdated.
	mustExec(t, pool, `INSERT INTO matching_service.platzsuche (id, patient_id, notizen) VALUES (1, 1, 'created'), (2, 2, NULL), (3, 3, NULL)`)
	mustExec(t, pool, `UPDATE matching_service.history SET at = $1`, ago(20))
	mustExec(t, pool, `UPDATE matching_service.platzsuche SET notizen = 'changed 15 days ago' WHERE id = 1`)
	mustExec(t, pool, `DELETE FROM matching_service.platzsuche WHERE id = 2`)
	mustExec(t, pool, `UPDATE matching_service.history SET at = CASE WHEN op = 'DELETE' THEN $2::timestamptz ELSE $1::timestamptz END WHERE at > $3`, ago(15), ago(12), ago(19))
	mustExec(t, pool, `UPDATE matching_service.platzsuche SET notizen = 'changed 2 days ago' WHERE id = 1`)
	mustExec(t, pool, `UPDATE matching_service.history SET at = $1 WHERE at > $2`, ago(2), ago(11))

	r := store.Retention{Inbox: 30 * day, Outbox: 7 * day, History: 10 * day, Batch: 1, MaxBatches: 100}
	pruned, err := store.Prune(ctx, pool, r, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Pruned{ProcessedEvents: 2, Outbox: 1, History: 3, EventLog: 1}); pruned != want {
		t.Errorf("pruned %+v, want %+v", pruned, want)
	}
	strings := func(sql string) []string {
		t.Helper()
		rows, err := pool.Query(ctx, sql)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	checks := map[string][]string{
		`SELECT dedupe_key FROM matching_service.processed_events ORDER BY 1`:            {"recent"},
		`SELECT event_type FROM matching_service.outbox ORDER BY 1`:                      {"never-published", "published-recently"},
		`SELECT event_type FROM matching_service.event_log WHERE direction = 'consumed'`: {"recent"},
		`SELECT row_id || ' ' || op || ' ' || coalesce(after->>'notizen', '-') FROM matching_service.history ORDER BY id`: {
			"3 INSERT -", "1 UPDATE changed 15 days ago", "1 UPDATE changed 2 days ago"},
	}
	for q, want := range checks {
		if d := cmp.Diff(want, strings(q)); d != "" {
			t.Errorf("%s (-want +got):\n%s", q, d)
		}
	}

	// Every instant since the cutoff reads as before; earlier ones are
	// refused rather than shown wrong.
	notes := func(at time.Time) string {
		s, err := store.GetSearchAt(ctx, pool, 1, at)
		if err != nil {
			return err.Error()
		}
		return *s.Notes
	}
	if got := notes(ago(5)); got != "changed 15 days ago" {
		t.Errorf("5 days ago: %q", got)
	}
	if got := notes(ago(1)); got != "changed 2 days ago" {
		t.Errorf("1 day ago: %q", got)
	}
	if _, err := store.GetSearchAt(ctx, pool, 3, ago(9)); err != nil {
		t.Errorf("the unchanged search 9 days ago: %v", err)
	}
	if _, err := store.GetSearchAt(ctx, pool, 1, ago(11)); fault.KindOf(err) != fault.NotFound {
		t.Errorf("11 days ago, before the horizon: %v, want refused", err)
	}

	// A second run finds nothing more to do.
	if again, err := store.Prune(ctx, pool, r, now); err != nil || again.Total() != 0 {
		t.Errorf("second run pruned %+v (%v), want nothing", again, err)
	}
}

// The inbox's and the outbox's rows leave their tables for the event log
// when pruned, keeping their place in the history's order; the log (the
// views over both places) shows the same events before and after.
func TestPrune_movesLoggedEventsToTheEventLog(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	storetest.SyntheticEvents(t) // an outbox row that only marks what moves
	ctx := context.Background()
	old := time.Now().Add(-40 * 24 * time.Hour)
	mustExec(t, pool, `
		INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type, processed_at, handled_at, payload, patient_id)
		VALUES ('c', 'logged', 'patient.deleted', $1, $1, '{"patient_id": 7}', 7),
		       ('c', 'from-before-the-log', 'patient.deleted', $1, NULL, NULL, NULL)`, old)
	mustExec(t, pool, `INSERT INTO matching_service.outbox (event_type, partition_key, payload, published_at)
		VALUES ('search.status_changed', '3', '{"search_id": 3, "patient_id": 7}', $1)`, old)
	log := func() []string {
		rows, err := pool.Query(ctx, `
			SELECT id || ' consumed ' || dedupe_key || ' ' || payload FROM matching_service.consumed_events
			UNION ALL
			SELECT id || ' emitted ' || event_type || ' ' || partition_key || ' ' || (cause->>'kind') FROM matching_service.emitted_events
			ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := log()
	day := 24 * time.Hour
	pruned, err := store.Prune(ctx, pool, store.Retention{Inbox: 30 * day, Outbox: 7 * day}, time.Now())
	if err != nil || pruned.ProcessedEvents != 2 || pruned.Outbox != 1 {
		t.Fatalf("pruned %+v (%v), want both inbox rows and the outbox row", pruned, err)
	}
	if d := cmp.Diff(before, log()); d != "" || len(before) != 2 {
		t.Errorf("the log changed (-before +after):\n%s", d)
	}
	var found int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM matching_service.event_log WHERE patient_id = 7`).Scan(&found); err != nil || found != 2 {
		t.Errorf("%d moved events name patient 7 (%v), want 2", found, err)
	}
}
