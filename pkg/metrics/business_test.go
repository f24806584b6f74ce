package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// seedBusiness writes nine anfragen in every state the business counters
// distinguish, two scheduled follow-up calls and two completed calls, each
// next to a row that must not count.
func seedBusiness(t testing.TB, pool *pgxpool.Pool) {
	t.Helper()
	_, err := pool.Exec(context.Background(), `
INSERT INTO matching_service.therapeutenanfrage
    (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, antworttyp, email_id, phone_call_id, storniert_datum)
VALUES
    -- 1: created, not sent
    (1, 1, NULL, NULL, NULL, NULL, NULL, NULL),
    -- 2: created, cancelled before sending
    (2, 1, NULL, NULL, NULL, NULL, NULL, '2026-01-01 09:00'),
    -- 3: sent by email, no response yet
    (3, 1, '2026-01-01 08:00', NULL, NULL, 11, NULL, NULL),
    -- 4: sent by email, full acceptance after 30 minutes
    (4, 1, '2026-01-01 08:00', '2026-01-01 08:30', 'vollstaendige_Annahme', 12, NULL, NULL),
    -- 5: sent by email, follow-up call later, partial acceptance after exactly one day: channel email
    (5, 2, '2026-01-01 08:00', '2026-01-02 08:00', 'teilweise_Annahme', 13, 21, NULL),
    -- 6: sent by phone, full rejection after three days and a second
    (6, 1, '2026-01-01 08:00', '2026-01-04 08:00:01', 'vollstaendige_Ablehnung', NULL, 22, NULL),
    -- 7: sent by phone, recorded as no answer after 40 days
    (7, 1, '2026-01-01 08:00', '2026-02-10 08:00', 'keine_Antwort', NULL, 23, NULL),
    -- 8: marked sent with neither an email nor a call (the reference's data may hold such rows)
    (8, 1, '2026-01-01 08:00', NULL, NULL, NULL, NULL, NULL),
    -- 9: sent by email, answer stamped a minute before the send (clock skew): 0 s
    (9, 1, '2026-01-01 08:00', '2026-01-01 07:59', 'vollstaendige_Annahme', 14, NULL, NULL);

INSERT INTO matching_service.outbox (event_type, partition_key, payload, published_at) VALUES
    ('therapeutenanfrage.follow_up_scheduled', '3', '{"anfrage_id":3,"therapist_id":1,"phone_call_id":31,"scheduled_date":"2026-01-09","scheduled_time":"10:00"}', now()),
    ('therapeutenanfrage.follow_up_scheduled', '8', '{"anfrage_id":8,"therapist_id":1,"phone_call_id":38,"scheduled_date":"2026-01-09","scheduled_time":"10:00"}', NULL),
    ('therapeutenanfrage.created', '1', '{"anfrage_id":1,"therapist_id":1,"patient_ids":[1],"anfrage_size":1}', now());

INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type) VALUES
    ('matching-service-communication', 'event:c1', 'phone_call.completed'),
    ('matching-service-communication', 'event:c2', 'phone_call.completed'),
    ('matching-service-communication', 'event:e1', 'email.sent');`)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
}

// businessWant is what the rows of seedBusiness give, family by family.
var businessWant = map[string]map[string]float64{
	"matching_anfragen_created_total": {"": 9},
	"matching_anfragen_sent_total":    {"channel=email": 4, "channel=phone_call": 2, "channel=unknown": 1},
	"matching_anfragen_responses_total": {
		"response_type=vollstaendige_Annahme":   2,
		"response_type=teilweise_Annahme":       1,
		"response_type=vollstaendige_Ablehnung": 1,
		"response_type=keine_Antwort":           1,
	},
	// 0 s (clamped), 1800 s, 86400 s (on the 1 d bound, which is
	// inclusive), 259201 s (just past 3 d) and 3456000 s (40 d, past every
	// bound).
	"matching_anfrage_response_time_seconds": {
		"le=3600": 2, "le=21600": 2, "le=86400": 3, "le=172800": 3, "le=259200": 3,
		"le=604800": 4, "le=1.2096e+06": 4, "le=2.592e+06": 4, "le=+Inf": 5,
		"count": 5, "sum": 0 + 1800 + 86400 + 259201 + 3456000,
	},
	"matching_follow_up_calls_scheduled_total": {"": 2},
	"matching_follow_up_calls_completed_total": {"": 2},
}

func diffBusiness(s metricstest.Scrape) string {
	got := map[string]map[string]float64{}
	for name := range businessWant {
		got[name] = s.Series(name)
	}
	return cmp.Diff(businessWant, got)
}

// The business counters are read from the rows: created, sent by channel
// (an emailed anfrage keeps email when a follow-up call follows), responses
// by type, the response time histogram with inclusive bounds, follow-up
// calls scheduled (outbox rows of that type, published or not) and calls
// completed (consumed phone_call.completed events).
func TestCollectBusiness_countsFromTheDatabase(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	seedBusiness(t, pool)
	m := metrics.New(metrics.Options{})
	m.CollectBusiness(pool)

	if d := diffBusiness(scrape(t, m.Handler())); d != "" {
		t.Errorf("business counters (-want +got):\n%s", d)
	}
}

// An empty database gives every counter at 0 and an empty histogram; the
// unknown channel is only reported when such anfragen exist.
func TestCollectBusiness_emptyDatabaseGivesZeros(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	m := metrics.New(metrics.Options{})
	m.CollectBusiness(pool)
	s := scrape(t, m.Handler())

	if d := cmp.Diff(map[string]float64{"channel=email": 0, "channel=phone_call": 0}, s.Series("matching_anfragen_sent_total")); d != "" {
		t.Errorf("sent (-want +got):\n%s", d)
	}
	for _, name := range []string{"matching_anfragen_created_total", "matching_follow_up_calls_scheduled_total", "matching_follow_up_calls_completed_total"} {
		if got := s.Value(t, name, ""); got != 0 {
			t.Errorf("%s = %v, want 0", name, got)
		}
	}
	if got := s.Value(t, "matching_anfrage_response_time_seconds", "count"); got != 0 {
		t.Errorf("response time count = %v, want 0", got)
	}
}

// A restarted process (a new Metrics on the same database) reports the same
// business totals: nothing of them lives in process memory.
func TestCollectBusiness_survivesARestart(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	seedBusiness(t, pool)
	before := metrics.New(metrics.Options{})
	before.CollectBusiness(pool)
	if d := diffBusiness(scrape(t, before.Handler())); d != "" {
		t.Fatalf("before the restart (-want +got):\n%s", d)
	}

	after := metrics.New(metrics.Options{})
	after.CollectBusiness(pool)
	if d := diffBusiness(scrape(t, after.Handler())); d != "" {
		t.Errorf("after the restart (-want +got):\n%s", d)
	}
}

// Within the cache TTL a scrape reuses the last reading; once it has passed,
// the next scrape reads the database again.
func TestCollectBusiness_honoursTheCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.New(t)
	seedBusiness(t, pool)
	m := metrics.New(metrics.Options{CacheTTL: 10 * time.Second})
	now := time.Date(2026, 3, 2, 12, 0, 0, 0, time.UTC)
	metrics.SetClock(m, func() time.Time { return now })
	m.CollectBusiness(pool)

	created := func() float64 { return scrape(t, m.Handler()).Value(t, "matching_anfragen_created_total", "") }
	if got := created(); got != 9 {
		t.Fatalf("first scrape: created = %v, want 9", got)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES (9, 1)`); err != nil {
		t.Fatal(err)
	}
	now = now.Add(9 * time.Second)
	if got := created(); got != 9 {
		t.Errorf("9 s later: created = %v, want the cached 9", got)
	}
	now = now.Add(time.Second)
	if got := created(); got != 10 {
		t.Errorf("10 s later: created = %v, want 10 read again", got)
	}
}

// When the database cannot be read, the scrape still succeeds with every
// other metric; the business and backlog series are left out and the
// failure is counted.
func TestHandler_databaseDownKeepsTheOtherMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, url := storetest.New(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(metrics.Options{QueryTimeout: time.Second})
	m.CollectBusiness(pool)
	m.CollectBacklog(func(context.Context) (int, time.Duration, error) {
		return 0, 0, context.DeadlineExceeded
	})
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, time.Millisecond)
	pool.Close()

	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d, want 200", rec.Code)
	}
	s := scrape(t, m.Handler())
	if got := s.Value(t, "matching_events_consumed_total", "outcome=processed,source=patient-events,type=patient.deleted"); got != 1 {
		t.Errorf("consumed = %v, want 1", got)
	}
	for _, name := range []string{"matching_anfragen_created_total", "matching_anfrage_response_time_seconds", "matching_outbox_backlog_events"} {
		if _, ok := s[name]; ok {
			t.Errorf("%s scraped although the database is down", name)
		}
	}
	// A scrape reports the failures of the scrapes before it.
	if got := s.Value(t, "promhttp_metric_handler_errors_total", "cause=gathering"); got != 1 {
		t.Errorf("gathering errors = %v, want 1 (the first scrape's)", got)
	}
}

// Pruning the outbox and processed_events (retention), deleting anfragen and
// folding the counters' increments change no business counter: they are
// counted as things happen, not from the rows that are left.
func TestCollectBusiness_noCounterGoesDownWhenRowsArePrunedOrDeleted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.New(t)
	seedBusiness(t, pool)
	m := metrics.New(metrics.Options{CacheTTL: 10 * time.Second})
	now := time.Now()
	metrics.SetClock(m, func() time.Time { return now })
	m.CollectBusiness(pool)
	before := scrape(t, m.Handler())
	if d := diffBusiness(before); d != "" {
		t.Fatalf("before (-want +got):\n%s", d)
	}

	// Everything is old enough to go, and some anfragen are deleted.
	if _, err := pool.Exec(ctx, `
		UPDATE matching_service.processed_events SET processed_at = now() - interval '100 days';
		UPDATE matching_service.outbox SET published_at = now() - interval '100 days' WHERE published_at IS NOT NULL;
		DELETE FROM matching_service.therapeutenanfrage WHERE therapist_id IN (4, 7)`); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	pruned, err := store.Prune(ctx, pool, store.Retention{Inbox: day, Outbox: day, History: day}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if pruned.ProcessedEvents != 3 || pruned.Outbox != 2 {
		t.Fatalf("pruned %+v, want every processed event and both published outbox rows", pruned)
	}
	now = now.Add(time.Minute) // past the cache
	after := scrape(t, m.Handler())
	for name := range businessWant {
		for series, was := range before.Series(name) {
			if now := after.Series(name)[series]; now < was {
				t.Errorf("%s{%s} went down from %v to %v", name, series, was, now)
			}
		}
	}
	if d := diffBusiness(after); d != "" {
		t.Errorf("after pruning (-want +got):\n%s", d)
	}
	// The fold left one row per counter.
	var rows, counters int
	if err := pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT (name, label)) FROM matching_service.business_counter`).Scan(&rows, &counters); err != nil || rows != counters {
		t.Errorf("business_counter holds %d rows for %d counters (%v)", rows, counters, err)
	}
}
