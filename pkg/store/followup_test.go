package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// anfrageRow is the part of a therapeutenanfrage the follow-up rule reads;
// the times are naive UTC as the reference stores them, nil for NULL.
type anfrageRow struct {
	therapist int64
	gesendet  *time.Time
	antwort   *time.Time
	storniert *time.Time
	phoneCall *int64
}

func insertAnfrage(t testing.TB, pool *pgxpool.Pool, a anfrageRow) int64 {
	t.Helper()
	var id int64
	err := pool.QueryRow(context.Background(), `
INSERT INTO matching_service.therapeutenanfrage
    (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, storniert_datum, phone_call_id)
VALUES ($1, 1, $2, $3, $4, $5) RETURNING id`,
		a.therapist, a.gesendet, a.antwort, a.storniert, a.phoneCall).Scan(&id)
	if err != nil {
		t.Fatalf("insert anfrage: %v", err)
	}
	return id
}

func at(t time.Time) *time.Time { return &t }

func ids(cs []store.FollowUpCandidate) []int64 {
	out := make([]int64, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

func TestDueFollowUps_selectsSentUnansweredUncancelledUncalledUpToTheCutoff(t *testing.T) {
	ctx := context.Background()
	pool, _ := storetest.New(t)
	cutoff := time.Date(2025, 3, 24, 8, 0, 0, 0, time.UTC)
	callID := int64(900)

	older := insertAnfrage(t, pool, anfrageRow{therapist: 1, gesendet: at(cutoff.Add(-48 * time.Hour))})
	atCutoff := insertAnfrage(t, pool, anfrageRow{therapist: 2, gesendet: at(cutoff)})
	insertAnfrage(t, pool, anfrageRow{therapist: 3, gesendet: at(cutoff.Add(time.Microsecond))})
	insertAnfrage(t, pool, anfrageRow{therapist: 4}) // unsent
	insertAnfrage(t, pool, anfrageRow{therapist: 5, gesendet: at(cutoff.Add(-time.Hour)), antwort: at(cutoff)})
	insertAnfrage(t, pool, anfrageRow{therapist: 6, gesendet: at(cutoff.Add(-time.Hour)), storniert: at(cutoff)})
	insertAnfrage(t, pool, anfrageRow{therapist: 7, gesendet: at(cutoff.Add(-time.Hour)), phoneCall: &callID})

	// The cutoff may come in any location; it means the same instant.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	got, err := store.DueFollowUps(ctx, pool, cutoff.In(berlin), store.FollowUpCandidate{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.FollowUpCandidate{
		{ID: older, TherapistID: 1, GesendetDatum: cutoff.Add(-48 * time.Hour)},
		{ID: atCutoff, TherapistID: 2, GesendetDatum: cutoff},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("due follow-ups (-want +got):\n%s", diff)
	}
}

func TestDueFollowUps_pagesThroughEveryRowOnceOldestFirst(t *testing.T) {
	ctx := context.Background()
	pool, _ := storetest.New(t)
	base := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	var want []int64
	for i := 0; i < 23; i++ {
		// Groups of three share a timestamp, so the cursor must use the id too.
		sent := base.Add(-time.Duration(i/3) * time.Hour)
		want = append(want, insertAnfrage(t, pool, anfrageRow{therapist: int64(i), gesendet: at(sent)}))
	}
	// Oldest first, ids ascending within one timestamp.
	byAge := make([]int64, 0, len(want))
	for g := 7; g >= 0; g-- {
		for i := g * 3; i < g*3+3 && i < len(want); i++ {
			byAge = append(byAge, want[i])
		}
	}

	var got []int64
	var after store.FollowUpCandidate
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		page, err := store.DueFollowUps(ctx, pool, base, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		got = append(got, ids(page)...)
		after = page[len(page)-1]
	}
	if diff := cmp.Diff(byAge, got); diff != "" {
		t.Errorf("paged ids (-want +got):\n%s", diff)
	}
}

func TestClaimFollowUp_lockedRowIsSkippedAndCalledRowIsNotClaimedAgain(t *testing.T) {
	ctx := context.Background()
	pool, _ := storetest.New(t)
	cutoff := time.Date(2025, 3, 24, 8, 0, 0, 0, time.UTC)
	id := insertAnfrage(t, pool, anfrageRow{therapist: 11, gesendet: at(cutoff.Add(-time.Hour))})

	first, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	c, ok, err := store.ClaimFollowUp(ctx, first, id, cutoff)
	if err != nil || !ok || c.TherapistID != 11 {
		t.Fatalf("first claim = %+v, %v, %v; want the anfrage", c, ok, err)
	}

	claimElsewhere := func() bool {
		t.Helper()
		var ok bool
		err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
			var err error
			_, ok, err = store.ClaimFollowUp(ctx, tx, id, cutoff)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	start := time.Now()
	if claimElsewhere() {
		t.Fatal("a second transaction claimed the anfrage while the first held it")
	}
	if waited := time.Since(start); waited > 2*time.Second {
		t.Errorf("the second claim waited %s for the lock instead of skipping", waited)
	}

	if err := store.SetFollowUpCall(ctx, first, id, 4711); err != nil {
		t.Fatal(err)
	}
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if claimElsewhere() {
		t.Fatal("an anfrage with a phone call was claimed again")
	}
	var phone int64
	if err := pool.QueryRow(ctx, `SELECT phone_call_id FROM matching_service.therapeutenanfrage WHERE id = $1`, id).Scan(&phone); err != nil || phone != 4711 {
		t.Fatalf("phone_call_id = %d, %v; want 4711", phone, err)
	}
}

func TestClaimFollowUp_rowReleasedByARollbackIsClaimable(t *testing.T) {
	ctx := context.Background()
	pool, _ := storetest.New(t)
	cutoff := time.Date(2025, 3, 24, 8, 0, 0, 0, time.UTC)
	id := insertAnfrage(t, pool, anfrageRow{therapist: 12, gesendet: at(cutoff)})

	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := store.ClaimFollowUp(ctx, tx, id, cutoff); err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	err = store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		_, ok, err := store.ClaimFollowUp(ctx, tx, id, cutoff)
		if !ok {
			t.Error("the anfrage was not claimable after the first claim rolled back")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The selection must be able to use the partial index of migration 00004;
// its WHERE clause has to imply the index predicate word for word.
func TestDueFollowUps_canUseThePartialIndex(t *testing.T) {
	ctx := context.Background()
	pool, _ := storetest.New(t)
	sent := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	for i := 0; i < 50; i++ {
		insertAnfrage(t, pool, anfrageRow{therapist: int64(i), gesendet: at(sent), antwort: at(sent)})
	}
	var plan strings.Builder
	err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
		// On a small table a sequential scan is cheaper; forbid it to see
		// whether the index qualifies at all.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `EXPLAIN `+store.DueFollowUpsPageSQL, sent, time.Time{}, 0, 1000)
		if err != nil {
			return err
		}
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				return err
			}
			plan.WriteString(line + "\n")
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan.String(), "idx_therapeutenanfrage_follow_up_due") {
		t.Errorf("the selection does not use idx_therapeutenanfrage_follow_up_due:\n%s", plan.String())
	}
}

// selectAll pages through the whole selection as the job does and returns
// how many anfragen it found.
func selectAll(tb testing.TB, pool *pgxpool.Pool, cutoff time.Time, pageSize int) int {
	tb.Helper()
	total := 0
	var after store.FollowUpCandidate
	for {
		page, err := store.DueFollowUps(context.Background(), pool, cutoff, after, pageSize)
		if err != nil {
			tb.Fatal(err)
		}
		total += len(page)
		if len(page) < pageSize {
			return total
		}
		after = page[len(page)-1]
	}
}

// explain returns the plan of the selection's first page, as executed.
func explain(tb testing.TB, pool *pgxpool.Pool, cutoff time.Time, pageSize int) string {
	tb.Helper()
	rows, err := pool.Query(context.Background(), `EXPLAIN (ANALYZE, BUFFERS) `+store.DueFollowUpsPageSQL,
		pgx.QueryExecModeCacheDescribe, cutoff.UTC(), time.Time{}, 0, pageSize)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			tb.Fatal(err)
		}
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// followUpIndexDDL is the CREATE INDEX of migration 00004, read from the
// embedded migration so that the benchmark rebuilds exactly that index.
func followUpIndexDDL(tb testing.TB) string {
	tb.Helper()
	for _, src := range store.MigrationSources() {
		if !strings.HasPrefix(src, "00004_") {
			continue
		}
		start := strings.Index(src, "CREATE INDEX IF NOT EXISTS")
		if start < 0 {
			break
		}
		if end := strings.Index(src[start:], ";"); end > 0 {
			return src[start : start+end]
		}
	}
	tb.Fatal("migration 00004 has no CREATE INDEX")
	return ""
}

// BenchmarkDueFollowUps_selection times the follow-up selection alone —
// every page of it, through DueFollowUps as the job reads it — on
// FOLLOW_UP_BENCH_ROWS anfragen of which 1 % are due, with the partial index
// of migration 00004 (ns/op) and, as the baseline in the same run, without
// it (dropped and rebuilt outside the timer). The plans of the first page
// are logged.
func BenchmarkDueFollowUps_selection(b *testing.B) {
	ctx := context.Background()
	pool, _ := storetest.New(b)
	rows := storetest.FollowUpBenchRows(b)
	start := time.Now()
	storetest.SeedFollowUpHistory(b, pool, rows)
	b.Logf("seeded %d anfragen in %s", rows, time.Since(start).Round(time.Millisecond))
	cutoff := time.Now().AddDate(0, 0, -7)
	const pageSize = 500
	ddl := followUpIndexDDL(b)
	exec := func(sql string) {
		if _, err := pool.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	const drop = `DROP INDEX matching_service.idx_therapeutenanfrage_follow_up_due`

	due := selectAll(b, pool, cutoff, pageSize)
	b.Logf("first page with idx_therapeutenanfrage_follow_up_due:\n%s", explain(b, pool, cutoff, pageSize))
	exec(drop)
	if n := selectAll(b, pool, cutoff, pageSize); n != due {
		b.Fatalf("without the index the selection finds %d, with it %d", n, due)
	}
	b.Logf("first page without it:\n%s", explain(b, pool, cutoff, pageSize))
	exec(ddl)

	var without time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		selectAll(b, pool, cutoff, pageSize)

		b.StopTimer()
		exec(drop)
		t0 := time.Now()
		selectAll(b, pool, cutoff, pageSize)
		without += time.Since(t0)
		exec(ddl)
		b.StartTimer()
	}
	b.StopTimer()
	with := b.Elapsed()
	n := float64(b.N)
	b.ReportMetric(float64(due), "due")
	b.ReportMetric(float64(without.Microseconds())/1000/n, "ms-without-index")
	b.ReportMetric(float64(without)/float64(with), "x-slower-without")
}
