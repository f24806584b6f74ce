package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// BenchmarkObserveConsumed is the cost of one ObserveConsumed call once the
// series of its source and type exist: what the runtime adds per event.
func BenchmarkObserveConsumed(b *testing.B) {
	m := metrics.New(metrics.Options{})
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, 3*time.Millisecond)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, 3*time.Millisecond)
			}
		})
	})
}

// decodeOnly is the no-op path of a consumer: the event is decoded like the
// real handler does, then acknowledged without touching a database. It is
// the most demanding baseline for the instrumentation's cost.
var decodeOnly = runtime.HandlerFunc(func(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	return in, events.Processed, nil
})

// BenchmarkHandler_instrumentationCost serves binary-mode CloudEvents through
// the runtime's HTTP server on the no-op path, alternately without and with
// metrics, one request each per iteration, so both see the same machine
// load. ns/op is one pair. throughput-ratio is the instrumented server's
// events/s over the bare one's (target ≥ 0.95), from the time of all but
// the slowest 1 % of each side's requests: on this shared machine a single
// preemption by a neighbour costs more than thousands of requests, and
// lands on one side at random. median-ratio compares the median requests.
// The wrapper reads the clock itself (about 100 ns here); wired into the
// runtime, which already times each event for its log line, only
// ObserveConsumed is added.
func BenchmarkHandler_instrumentationCost(b *testing.B) {
	m := metrics.New(metrics.Options{})
	bare := runtime.NewServer(runtime.ServerOptions{Handler: decodeOnly})
	withMetrics := runtime.NewServer(runtime.ServerOptions{
		Handler: instrumented(m, "patient-events", decodeOnly),
		Routes:  map[string]http.Handler{"GET /metrics": m.Handler()},
	})
	serve := func(h http.Handler) time.Duration {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"patient_id":7}`))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", "abc-1")
		req.Header.Set("Ce-Source", "/patient-service")
		req.Header.Set("Ce-Type", events.PatientDeleted)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, req)
		d := time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
		return d
	}
	var tBare, tMetrics []time.Duration
	for i := 0; b.Loop(); i++ {
		// Alternate which goes first, so neither profits from a warm cache.
		if i%2 == 0 {
			tBare = append(tBare, serve(bare))
			tMetrics = append(tMetrics, serve(withMetrics))
		} else {
			tMetrics = append(tMetrics, serve(withMetrics))
			tBare = append(tBare, serve(bare))
		}
	}
	sumBare, sumMetrics := trimmedSum(tBare), trimmedSum(tMetrics)
	medBare, medMetrics := median(tBare), median(tMetrics)
	b.ReportMetric(float64(medBare.Nanoseconds()), "bare-median-ns")
	b.ReportMetric(float64(medMetrics.Nanoseconds()), "metrics-median-ns")
	b.ReportMetric(float64(sumBare)/float64(sumMetrics), "throughput-ratio")
	b.ReportMetric(float64(medBare)/float64(medMetrics), "median-ratio")
}

// trimmedSum is the total of ds without its slowest 1 %.
func trimmedSum(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	var t time.Duration
	for _, d := range s[:len(s)-len(s)/100] {
		t += d
	}
	return t
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkScrape_business times one scrape of /metrics whose business
// counters are read from the database (cache expired every time), on
// METRICS_BENCH_ROWS anfragen (default 1,000,000) with about 2.8 outbox rows
// and one processed event per anfrage. The seed (a few minutes for a
// million: the counting and history triggers run for every row) runs only
// here, never in make test. Baselines in the same run: a scrape served from
// the cache, and the statement that counted the rows before migration 00032
// (rowCountSQL) run on the same data.
func BenchmarkScrape_business(b *testing.B) {
	pool, _ := storetest.New(b)
	rows := benchRows(b)
	start := time.Now()
	seedScale(b, pool, rows)
	b.Logf("seeded %d anfragen (and their outbox rows and processed events) in %s", rows, time.Since(start).Round(time.Second))

	m := metrics.New(metrics.Options{QueryTimeout: time.Minute})
	now := time.Now()
	metrics.SetClock(m, func() time.Time { return now })
	m.CollectBusiness(pool)
	h := m.Handler()
	scrapeOnce := func(b *testing.B) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("scrape: status %d", rec.Code)
		}
		if got := createdTotal(rec.Body.String()); got != float64(rows) {
			b.Fatalf("scrape: matching_anfragen_created_total %v, want %d", got, rows)
		}
	}

	var uncached, cached, counted time.Duration
	b.Run("database", func(b *testing.B) {
		for b.Loop() {
			now = now.Add(time.Hour) // expire the cache
			scrapeOnce(b)
		}
		uncached = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			scrapeOnce(b)
		}
		cached = b.Elapsed() / time.Duration(b.N)
	})
	b.Run("row-counts-before-00032", func(b *testing.B) {
		ctx := context.Background()
		for b.Loop() {
			if _, err := pool.Exec(ctx, `SET jit = off; `+rowCountSQL); err != nil {
				b.Fatal(err)
			}
		}
		counted = b.Elapsed() / time.Duration(b.N)
	})
	b.Logf("one scrape on %d anfragen: %s from the counters, %s from the cache; counting the rows took %s (%.0fx)",
		rows, uncached.Round(time.Microsecond), cached.Round(time.Microsecond), counted.Round(time.Millisecond),
		float64(counted)/float64(uncached))
}

// rowCountSQL is how the business counters were read before migration
// 00032 moved them to business_counter: counted from the rows on every
// scrape. Kept as the benchmark's baseline.
const rowCountSQL = `
SELECT
    count(*)                                                                                    AS created,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NOT NULL)                 AS sent_email,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NULL
                       AND phone_call_id IS NOT NULL)                                           AS sent_phone_call,
    count(*) FILTER (WHERE gesendet_datum IS NOT NULL AND email_id IS NULL AND phone_call_id IS NULL) AS sent_unknown,
    count(*) FILTER (WHERE antworttyp = 'vollstaendige_Annahme')                                AS full_acceptance,
    count(*) FILTER (WHERE antworttyp = 'teilweise_Annahme')                                    AS partial_acceptance,
    count(*) FILTER (WHERE antworttyp = 'vollstaendige_Ablehnung')                              AS full_rejection,
    count(*) FILTER (WHERE antworttyp = 'keine_Antwort')                                        AS no_response,
    count(rt)                                                                                   AS rt_count,
    COALESCE(sum(rt), 0)                                                                        AS rt_sum,
    count(*) FILTER (WHERE rt <= 3600)                                                          AS le_1h,
    count(*) FILTER (WHERE rt <= 21600)                                                         AS le_6h,
    count(*) FILTER (WHERE rt <= 86400)                                                         AS le_1d,
    count(*) FILTER (WHERE rt <= 172800)                                                        AS le_2d,
    count(*) FILTER (WHERE rt <= 259200)                                                        AS le_3d,
    count(*) FILTER (WHERE rt <= 604800)                                                        AS le_7d,
    count(*) FILTER (WHERE rt <= 1209600)                                                       AS le_14d,
    count(*) FILTER (WHERE rt <= 2592000)                                                       AS le_30d,
    (SELECT count(*) FROM matching_service.outbox
     WHERE event_type = 'therapeutenanfrage.follow_up_scheduled')                               AS follow_ups_scheduled,
    (SELECT count(*) FROM matching_service.processed_events
     WHERE event_type = 'phone_call.completed')                                                 AS calls_completed
FROM (
    SELECT gesendet_datum, email_id, phone_call_id, antworttyp,
           CASE WHEN gesendet_datum IS NOT NULL AND antwort_datum IS NOT NULL
                THEN GREATEST(date_part('epoch', antwort_datum - gesendet_datum), 0)
           END AS rt
    FROM matching_service.therapeutenanfrage
    OFFSET 0
) a`

// createdTotal is the value of matching_anfragen_created_total in a
// scrape's text, -1 when it is missing.
func createdTotal(text string) float64 {
	for line := range strings.Lines(text) {
		if v, ok := strings.CutPrefix(line, "matching_anfragen_created_total "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err == nil {
				return f
			}
		}
	}
	return -1
}

// benchRows is METRICS_BENCH_ROWS, default 1,000,000.
func benchRows(tb testing.TB) int {
	if v := os.Getenv("METRICS_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			tb.Fatalf("METRICS_BENCH_ROWS=%q: want a number of at least 100", v)
		}
		return n
	}
	return 1_000_000
}

// seedScale writes n anfragen spread over about three years: 95 % sent (90 %
// of them by email, the rest by phone), 85 % of the sent ones answered after
// up to 41 days with the four response types in turn, 2 % of the emailed
// ones with a follow-up call. The outbox holds what matching emitted for
// them (created, sent, response_received, follow_up_scheduled: about 2.8
// rows per anfrage, all published), processed_events one email.sent per
// email and one phone_call.completed per call.
func seedScale(tb testing.TB, pool *pgxpool.Pool, n int) {
	tb.Helper()
	exec(tb, pool, `
INSERT INTO matching_service.therapeutenanfrage
    (therapist_id, erstellt_datum, gesendet_datum, antwort_datum, antworttyp, anfragegroesse,
     notizen, email_id, phone_call_id)
SELECT 1 + i % 5000, created,
       CASE WHEN i % 20 <> 0 THEN created + interval '5 minutes' END,
       CASE WHEN i % 20 <> 0 AND i % 7 <> 0 THEN created + interval '5 minutes' + (i % 1000) * interval '1 hour' END,
       CASE WHEN i % 20 <> 0 AND i % 7 <> 0 THEN
            (ARRAY['vollstaendige_Annahme','teilweise_Annahme','vollstaendige_Ablehnung','keine_Antwort'])[1 + i % 4]::public.antworttyp
       END,
       3,
       '[2025-01-01 10:00] System: Anfrage erstellt mit 3 Patienten',
       CASE WHEN i % 20 <> 0 AND i % 10 <> 1 THEN i END,
       CASE WHEN i % 20 <> 0 AND (i % 10 = 1 OR i % 50 = 2) THEN i END
FROM (SELECT i, (now() AT TIME ZONE 'utc') - (i % 1000) * interval '1 day' - (i % 1440) * interval '1 minute' AS created
      FROM generate_series(1, `+strconv.Itoa(n)+`) AS i) s;

INSERT INTO matching_service.outbox (event_type, partition_key, payload, created_at, published_at, attempts)
SELECT v.t, a.id::text,
       jsonb_build_object('anfrage_id', a.id, 'therapist_id', a.therapist_id, 'patient_ids', jsonb_build_array(1, 2, 3), 'anfrage_size', 3),
       a.erstellt_datum, a.erstellt_datum, 1
FROM matching_service.therapeutenanfrage a
CROSS JOIN LATERAL (VALUES
    ('therapeutenanfrage.created'),
    (CASE WHEN a.gesendet_datum IS NOT NULL THEN 'therapeutenanfrage.sent' END),
    (CASE WHEN a.antwort_datum IS NOT NULL THEN 'therapeutenanfrage.response_received' END),
    (CASE WHEN a.email_id IS NOT NULL AND a.phone_call_id IS NOT NULL THEN 'therapeutenanfrage.follow_up_scheduled' END)
) AS v(t)
WHERE v.t IS NOT NULL;

INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type)
SELECT 'matching-service-communication', 'event:email-' || email_id, 'email.sent'
FROM matching_service.therapeutenanfrage WHERE email_id IS NOT NULL
UNION ALL
SELECT 'matching-service-communication', 'event:call-' || phone_call_id, 'phone_call.completed'
FROM matching_service.therapeutenanfrage WHERE phone_call_id IS NOT NULL`)
	// VACUUM sets the visibility map the index-only scans rely on, as
	// autovacuum would on a table of that age.
	exec(tb, pool, `VACUUM ANALYZE`)
}

func exec(tb testing.TB, pool *pgxpool.Pool, sql string) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		tb.Fatal(err)
	}
}
