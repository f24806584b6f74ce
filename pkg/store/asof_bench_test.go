package store_test

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// historyBenchRows is HISTORY_BENCH_ROWS, default 1,000,000.
func historyBenchRows(tb testing.TB) int {
	if v := os.Getenv("HISTORY_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 20_000 {
			tb.Fatalf("HISTORY_BENCH_ROWS=%q: want a number of at least 20000", v)
		}
		return n
	}
	return 1_000_000
}

// seedHistory writes about rows history rows ten days long: a tenth of
// rows/10 searches and anfragen of three patients each made through the
// triggers ten days ago, then nine changes of every search, an hour apart,
// written straight into the history (as the triggers would, with the
// notes changed each time). It returns the instant the history begins.
func seedHistory(tb testing.TB, pool *pgxpool.Pool, rows int) time.Time {
	tb.Helper()
	ctx := context.Background()
	searches := rows / 10
	exec := func(sql string, args ...any) {
		tb.Helper()
		if _, err := pool.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("%.60s…: %v", sql, err)
		}
	}
	base := time.Now().Add(-10 * 24 * time.Hour).Truncate(time.Second)
	exec(`INSERT INTO matching_service.platzsuche (patient_id, status, notizen) SELECT g, 'aktiv', 'start' FROM generate_series(1, $1) g`, searches)
	exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) SELECT g, 3 FROM generate_series(1, $1) g`, searches/10)
	exec(`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
	      SELECT a, (a - 1) * 3 + p, (a - 1) * 3 + p, p FROM generate_series(1, $1) a, generate_series(1, 3) p`, searches/10)
	exec(`UPDATE matching_service.history SET at = $1`, base)
	exec(`
		INSERT INTO matching_service.history (at, tbl, op, row_id, platzsuche_id, patient_id, before, after, cause)
		SELECT $1::timestamptz + k * interval '1 hour', 'platzsuche', 'UPDATE', s.id, s.id, s.patient_id,
		       jsonb_set(to_jsonb(s), '{notizen}', to_jsonb('change ' || (k - 1))),
		       jsonb_set(to_jsonb(s), '{notizen}', to_jsonb('change ' || k)),
		       '{"kind": "api", "method": "PUT", "path": "/api/platzsuchen", "request_id": "bench"}'
		FROM matching_service.platzsuche s, generate_series(1, 9) k
		ORDER BY k, s.id`, base)
	exec(`VACUUM ANALYZE matching_service.history`)
	return base
}

// BenchmarkGetSearchAt times what GET /api/platzsuchen/{id}?stand= and
// GET /api/therapeutenanfragen/{id}?stand= read from the database (the row
// and its entries at an instant, one after the other), on a history of
// HISTORY_BENCH_ROWS rows (default 1,000,000; the seed takes a minute or
// two), for random rows and instants, and the same reads of the live rows
// as the baseline, alternating. It reports the p50 of both; the targets
// speak of ?stand= at p50 ≤ 10 ms.
func BenchmarkGetSearchAt(b *testing.B) {
	pool, _ := storetest.New(b)
	ctx := context.Background()
	rows := historyBenchRows(b)
	start := time.Now()
	base := seedHistory(b, pool, rows)
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM matching_service.history`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d history rows in %s", n, time.Since(start).Round(time.Second))
	if _, err := pool.Exec(ctx, `UPDATE matching_service.history_retention SET horizon = $1`, base.Add(-time.Hour)); err != nil {
		b.Fatal(err)
	}
	searches, anfragen := int64(rows/10), int64(rows/100)
	rnd := rand.New(rand.NewPCG(1, 2))
	var at, live []time.Duration
	b.ResetTimer()
	for i := range b.N {
		instant := base.Add(time.Duration(rnd.Int64N(int64(10 * time.Hour))))
		search, anfrage := 1+rnd.Int64N(searches), 1+rnd.Int64N(anfragen)
		t0 := time.Now()
		if i%2 == 0 {
			if _, err := store.GetSearchAt(ctx, pool, search, instant); err != nil {
				b.Fatal(err)
			}
			if _, err := store.SearchEntriesAt(ctx, pool, search, instant); err != nil {
				b.Fatal(err)
			}
		} else {
			if _, err := store.GetAnfrageAt(ctx, pool, anfrage, instant); err != nil {
				b.Fatal(err)
			}
			if _, err := store.AnfrageEntriesAt(ctx, pool, anfrage, instant); err != nil {
				b.Fatal(err)
			}
		}
		at = append(at, time.Since(t0))
		b.StopTimer()
		t0 = time.Now()
		if i%2 == 0 {
			_, _ = store.GetSearch(ctx, pool, search)
			_, _ = store.SearchEntries(ctx, pool, search)
		} else {
			_, _ = store.GetAnfrage(ctx, pool, anfrage)
			_, _ = store.AnfrageEntries(ctx, pool, anfrage)
		}
		live = append(live, time.Since(t0))
		b.StartTimer()
	}
	b.ReportMetric(float64(p50(at).Microseconds())/1000, "stand-p50-ms")
	b.ReportMetric(float64(p50(live).Microseconds())/1000, "live-p50-ms")
	b.ReportMetric(float64(n), "history-rows")
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
