package handlers_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store/storetest"
)

type anfrageState struct {
	Cancelled bool
	Reason    *string
	Notes     *string
}

func readAnfrage(t testing.TB, pool *pgxpool.Pool, id int64) (anfrageState, *time.Time) {
	t.Helper()
	var s anfrageState
	var at *time.Time
	if err := pool.QueryRow(context.Background(), `
		SELECT storniert_datum, storniert_grund, notizen FROM matching_service.therapeutenanfrage WHERE id = $1`, id).
		Scan(&at, &s.Reason, &s.Notes); err != nil {
		t.Fatal(err)
	}
	s.Cancelled = at != nil
	return s, at
}

func exclusions(t testing.TB, pool *pgxpool.Pool, searchID int64) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(),
		`SELECT ausgeschlossene_therapeuten::text FROM matching_service.platzsuche WHERE id = $1`, searchID).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return canonicalJSON(t, s)
}

func TestTherapistBlocked_cancelsUnsentAnfragenAndExcludesTheTherapistForOpenSearches(t *testing.T) {
	for name, d := range shapes("therapist.blocked", "b-1", "42", `{"therapist_id":42,"therapist_data":{"status":"gesperrt"},"reason":"Praxis geschlossen"}`) {
		t.Run(name, func(t *testing.T) {
			pool, _ := storetest.New(t)
			inUnsent := insertSearch(t, pool, 1, "aktiv")
			inPending := insertSearch(t, pool, 2, "pausiert")
			closed := insertSearch(t, pool, 3, "erfolgreich")
			inAnswered := insertSearch(t, pool, 4, "aktiv")
			inCancelled := insertSearch(t, pool, 5, "aktiv")
			elsewhere := insertSearch(t, pool, 6, "aktiv")
			unsent := insertAnfrage(t, pool, anfrage{therapist: 42, searches: []int64{inUnsent, closed}})
			pending := insertAnfrage(t, pool, anfrage{therapist: 42, sent: true, searches: []int64{inPending}})
			answered := insertAnfrage(t, pool, anfrage{therapist: 42, sent: true, answered: true, searches: []int64{inAnswered}})
			cancelled := insertAnfrage(t, pool, anfrage{therapist: 42, cancelled: true, searches: []int64{inCancelled}})
			other := insertAnfrage(t, pool, anfrage{therapist: 43, searches: []int64{elsewhere}})

			code, outcome := send(t, server(handlers.Therapist(pool, nil, nil)), d)
			if code != 200 || outcome != "processed" {
				t.Fatalf("status %d outcome %q, want 200 processed", code, outcome)
			}

			got, at := readAnfrage(t, pool, unsent)
			if at == nil {
				t.Fatalf("unsent anfrage not cancelled")
			}
			note := matching.Note(*at, "System", "Cancelled: Therapist blocked - Praxis geschlossen")
			reason := "Praxis geschlossen"
			if diff := cmp.Diff(anfrageState{true, &reason, &note}, got); diff != "" {
				t.Errorf("unsent anfrage (-want +got):\n%s", diff)
			}
			for _, id := range []int64{pending, answered, other} {
				if got, _ := readAnfrage(t, pool, id); got != (anfrageState{}) {
					t.Errorf("anfrage %d changed: %+v", id, got)
				}
			}
			if got, _ := readAnfrage(t, pool, cancelled); got.Notes != nil {
				t.Errorf("the anfrage cancelled before got a note: %q", *got.Notes)
			}

			entry := fmt.Sprintf(`[{"excluded_at":%q,"id":42,"reason":"Therapist blocked: Praxis geschlossen"}]`, matching.FormatTimestamp(*at))
			want := map[int64]string{inUnsent: entry, inPending: entry, closed: "[]", inAnswered: "[]", inCancelled: "[]", elsewhere: "[]"}
			for id, w := range want {
				if got := exclusions(t, pool, id); got != w {
					t.Errorf("search %d exclusions %s, want %s", id, got, w)
				}
			}
			wantEvents := []outboxRow{{"therapeutenanfrage.cancelled", fmt.Sprint(unsent),
				fmt.Sprintf(`{"anfrage_id":%d,"reason":"Praxis geschlossen","therapist_id":42}`, unsent)}}
			if diff := cmp.Diff(wantEvents, outboxRows(t, pool)); diff != "" {
				t.Errorf("emitted events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTherapistBlocked_withoutAReasonSaysTherapistBlocked(t *testing.T) {
	for name, payload := range map[string]string{
		"null reason":   `{"therapist_id":42,"reason":null}`,
		"absent reason": `{"therapist_id":42}`,
		"blank reason":  `{"therapist_id":42,"reason":"  "}`,
	} {
		t.Run(name, func(t *testing.T) {
			pool, _ := storetest.New(t)
			s := insertSearch(t, pool, 1, "aktiv")
			a := insertAnfrage(t, pool, anfrage{therapist: 42, searches: []int64{s}})
			if code, _ := send(t, server(handlers.Therapist(pool, nil, nil)), typed("therapist.blocked", "b", payload)); code != 200 {
				t.Fatalf("status %d", code)
			}
			got, at := readAnfrage(t, pool, a)
			note := matching.Note(*at, "System", "Cancelled: Therapist blocked")
			reason := "Therapist blocked"
			if diff := cmp.Diff(anfrageState{true, &reason, &note}, got); diff != "" {
				t.Errorf("anfrage (-want +got):\n%s", diff)
			}
			want := fmt.Sprintf(`[{"excluded_at":%q,"id":42,"reason":"Therapist blocked"}]`, matching.FormatTimestamp(*at))
			if got := exclusions(t, pool, s); got != want {
				t.Errorf("exclusions %s, want %s", got, want)
			}
		})
	}
}

func TestTherapistBlocked_keepsAnExistingExclusionAndRepeatsNothing(t *testing.T) {
	pool, _ := storetest.New(t)
	asInt := insertSearch(t, pool, 1, "aktiv")
	asObject := insertSearch(t, pool, 2, "aktiv")
	if _, err := pool.Exec(context.Background(), `
		UPDATE matching_service.platzsuche SET ausgeschlossene_therapeuten = CASE id
		    WHEN $1 THEN '[42]'::jsonb
		    ELSE '[{"id": 42, "excluded_at": "2025-01-01T00:00:00", "reason": "Rejected: abgelehnt_nicht_geeignet"}]'::jsonb END
		WHERE id IN ($1, $2)`, asInt, asObject); err != nil {
		t.Fatal(err)
	}
	insertAnfrage(t, pool, anfrage{therapist: 42, sent: true, searches: []int64{asInt, asObject}})
	h := server(handlers.Therapist(pool, nil, nil))
	// Two different block events (blocked, unblocked, blocked again).
	for _, id := range []string{"b-1", "b-2"} {
		if code, _ := send(t, h, typed("therapist.blocked", id, `{"therapist_id":42,"reason":"x"}`)); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	if got := exclusions(t, pool, asInt); got != `[42]` {
		t.Errorf("integer entry: list %s, want [42]", got)
	}
	if got := exclusions(t, pool, asObject); got != `[{"excluded_at":"2025-01-01T00:00:00","id":42,"reason":"Rejected: abgelehnt_nicht_geeignet"}]` {
		t.Errorf("object entry: list %s", got)
	}
}

func TestTherapistEvents_unblockedAndUpdatedChangeNothing(t *testing.T) {
	pool, _ := storetest.New(t)
	s := insertSearch(t, pool, 1, "aktiv")
	insertAnfrage(t, pool, anfrage{therapist: 42, searches: []int64{s}})
	before := snapshot(t, pool)
	h := server(handlers.Therapist(pool, nil, nil))
	for _, d := range []delivery{
		typed("therapist.unblocked", "u1", `{"therapist_id":42,"therapist_data":{}}`),
		typed("therapist.updated", "u2", `{"therapist_id":42,"therapist_data":{}}`),
	} {
		if code, _ := send(t, h, d); code != 200 {
			t.Fatalf("%s: status %d", d.header["Ce-Type"], code)
		}
	}
	// Only the inbox records the unblock (so a redelivery is a duplicate).
	if n := count(t, pool, `SELECT count(*) FROM matching_service.processed_events WHERE event_type = 'therapist.unblocked'`); n != 1 {
		t.Errorf("processed_events has %d unblocked rows, want 1", n)
	}
	after := snapshot(t, pool)
	if count(t, pool, `SELECT count(*) FROM matching_service.outbox`) != 0 || count(t, pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE notizen IS NOT NULL OR storniert_datum IS NOT NULL`) != 0 {
		t.Fatalf("something changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// statementCounter counts the statements a pool sends.
type statementCounter struct{ n atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}
func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countingPool opens a pool on url whose statements are counted.
func countingPool(t testing.TB, url string) (*pgxpool.Pool, *statementCounter) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &statementCounter{}
	cfg.ConnConfig.Tracer = c
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, c
}

// insertUnsentAnfragen adds n unsent anfragen of the therapist, each with
// one aktiv search of its own (patients therapist*100000+1 …), in one
// statement.
func insertUnsentAnfragen(t testing.TB, pool *pgxpool.Pool, therapist int64, n int) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
		WITH s AS (
		    INSERT INTO matching_service.platzsuche (patient_id, status)
		    SELECT $1::int * 100000 + g, 'aktiv' FROM generate_series(1, $2) g
		    RETURNING id, patient_id),
		a AS (
		    INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, erstellt_datum)
		    SELECT $1, 1, now() FROM generate_series(1, $2)
		    RETURNING id),
		pairs AS (
		    SELECT a.id AS anfrage, s.id AS search, s.patient_id
		    FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM a) a
		    JOIN (SELECT id, patient_id, row_number() OVER (ORDER BY id) r FROM s) s USING (r))
		INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
		SELECT anfrage, search, patient_id, 1 FROM pairs`, therapist, n)
	if err != nil {
		t.Fatal(err)
	}
}

func TestTherapistBlocked_tenThousandUnsentAnfragenTakeAHandfulOfStatements(t *testing.T) {
	_, url := storetest.New(t)
	pool, stmts := countingPool(t, url)
	const n = 10000
	insertUnsentAnfragen(t, pool, 42, n)
	h := server(handlers.Therapist(pool, nil, nil))

	stmts.n.Store(0)
	if code, _ := send(t, h, typed("therapist.blocked", "big", `{"therapist_id":42,"reason":"x"}`)); code != 200 {
		t.Fatalf("status %d", code)
	}
	// BEGIN, inbox row, exclusion, cancellation, outbox rows, COMMIT.
	if got := stmts.n.Load(); got > 6 {
		t.Errorf("therapist.blocked sent %d statements for %d anfragen, want a handful", got, n)
	}
	checks := map[string]int{
		`SELECT count(*) FROM matching_service.therapeutenanfrage WHERE storniert_datum IS NOT NULL`:                          n,
		`SELECT count(*) FROM matching_service.platzsuche WHERE jsonb_array_length(ausgeschlossene_therapeuten) = 1`:          n,
		`SELECT count(*) FROM matching_service.outbox WHERE event_type = 'therapeutenanfrage.cancelled'`:                      n,
		`SELECT count(DISTINCT partition_key) FROM matching_service.outbox WHERE event_type = 'therapeutenanfrage.cancelled'`: n,
	}
	for q, want := range checks {
		if got := count(t, pool, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
}
