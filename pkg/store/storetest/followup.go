package storetest

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// FollowUpBenchRows is FOLLOW_UP_BENCH_ROWS (default 100,000; the closing
// note's numbers use 1,000,000), so that make bench stays short. The store's
// selection benchmark and the follow-up job's benchmark use it alike.
func FollowUpBenchRows(tb testing.TB) int {
	tb.Helper()
	if v := os.Getenv("FOLLOW_UP_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			tb.Fatalf("FOLLOW_UP_BENCH_ROWS=%q: want a number of at least 100", v)
		}
		return n
	}
	return 100_000
}

// SeedFollowUpHistory fills the anfrage table with rows rows shaped like a
// platform's history, one in a hundred due for a follow-up: 85 % answered,
// 5 % already called, 3 % cancelled, 3 % unsent, 3 % sent in the last six
// days, 1 % due — sent 8 to 60 days ago and marked with anfragegroesse = 5
// so that a benchmark can reset them. The therapists are 1…5000. The table
// is vacuumed and analysed afterwards, so plans see the real statistics.
func SeedFollowUpHistory(tb testing.TB, pool *pgxpool.Pool, rows int) {
	tb.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `
INSERT INTO matching_service.therapeutenanfrage
    (therapist_id, anfragegroesse, erstellt_datum, gesendet_datum, antwort_datum, storniert_datum, phone_call_id)
SELECT 1 + i % 5000,
       CASE WHEN k = 0 THEN 5 ELSE 3 END,
       sent - interval '1 hour',
       CASE WHEN k BETWEEN 91 AND 96 THEN NULL ELSE sent END,
       CASE WHEN k BETWEEN 1 AND 85 THEN sent + interval '3 days' END,
       CASE WHEN k BETWEEN 91 AND 93 THEN sent END,
       CASE WHEN k BETWEEN 86 AND 90 THEN 100000000 + i END
FROM (
    SELECT i, i % 100 AS k,
           CASE WHEN i % 100 BETWEEN 97 AND 99
                THEN (now() AT TIME ZONE 'utc') - (i % 6) * interval '1 day' - (i % 20) * interval '1 hour'
                WHEN i % 100 = 0
                THEN (now() AT TIME ZONE 'utc') - (8 + i % 53) * interval '1 day' - (i % 1440) * interval '1 minute'
                ELSE (now() AT TIME ZONE 'utc') - (10 + (i::bigint * 7919) % 1000) * interval '1 day' - (i % 1440) * interval '1 minute'
           END AS sent
    FROM generate_series(1, $1::int) AS i
) s`, rows)
	if err != nil {
		tb.Fatalf("seed: %v", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE matching_service.therapeutenanfrage`); err != nil {
		tb.Fatalf("vacuum: %v", err)
	}
}
