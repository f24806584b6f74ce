package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/benchtest"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// benchConns is the pool size of both sides of the comparison, and the
// number of concurrent senders.
const benchConns = 8

// run calls fn(i) for i in [0, n) from benchConns goroutines and returns the
// wall time.
func run(n int, fn func(i int) error) (time.Duration, error) {
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range benchConns {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), firstErr
}

// seedPatients gives patients from+1 … from+n one aktiv search each.
func seedPatients(b *testing.B, pool *pgxpool.Pool, from, n int) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `
		INSERT INTO matching_service.platzsuche (patient_id, status)
		SELECT g, 'aktiv' FROM generate_series($1::int + 1, $1::int + $2::int) g`, from, n); err != nil {
		b.Fatal(err)
	}
}

// baselineTx is the transaction of a patient.deleted written directly with
// pgx: the inbox row, the cancelling UPDATE and the outbox row.
func baselineTx(ctx context.Context, pool *pgxpool.Pool, patientID int64, note string, at time.Time) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type)
			VALUES ('baseline', $1, 'patient.deleted') ON CONFLICT DO NOTHING`, "event:"+strconv.FormatInt(patientID, 10)); err != nil {
			return err
		}
		var id int64
		var old string
		if err := tx.QueryRow(ctx, `
			UPDATE matching_service.platzsuche s
			SET status = 'abgebrochen', updated_at = $2,
			    notizen = CASE WHEN coalesce(s.notizen, '') = '' THEN $3 ELSE s.notizen || E'\n' || $3 END
			FROM (SELECT id, status FROM matching_service.platzsuche
			      WHERE patient_id = $1 AND status IN ('aktiv', 'pausiert') FOR UPDATE) old
			WHERE s.id = old.id AND s.status IN ('aktiv', 'pausiert')
			RETURNING s.id, old.status::text`, patientID, at, note).Scan(&id, &old); err != nil {
			return err
		}
		payload := fmt.Sprintf(`{"search_id":%d,"patient_id":%d,"old_status":%q,"new_status":"abgebrochen"}`, id, patientID, old)
		_, err := tx.Exec(ctx, `INSERT INTO matching_service.outbox (event_type, partition_key, payload) VALUES ('search.status_changed', $1, $2::jsonb)`,
			strconv.FormatInt(id, 10), payload)
		return err
	})
}

// discardSink accepts every event at once, so publishing costs only the
// publisher's own database work.
type discardSink struct{}

func (discardSink) Send(context.Context, cloudevents.Event) error { return nil }
func (discardSink) Close() error                                  { return nil }

// BenchmarkPatientDeleted compares patient.deleted over HTTP (CloudEvents
// decoding, inbox, cascade, outbox, status) with the same transaction run
// directly with pgx, on pools of the same size (in two databases of the same
// server) and with the same number of concurrent senders. "publish" also publishes after commit through a sink
// that accepts at once (the publisher's claim-and-mark transaction).
func BenchmarkPatientDeleted(b *testing.B) {
	for _, publish := range []bool{false, true} {
		name := "http"
		if publish {
			name = "http+publish"
		}
		b.Run(name, func(b *testing.B) {
			_, url := storetest.New(b)
			ctx := context.Background()
			pool, err := store.Open(ctx, url, benchConns)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			var pub *outbox.Publisher
			proc := handlers.Patient(pool, nil, nil)
			if publish {
				pub = outbox.NewPublisher(pool, discardSink{}, slog.New(slog.DiscardHandler))
				proc = handlers.Patient(pool, pub, nil)
			}
			n := b.N
			seedPatients(b, pool, 0, n)
			// The baseline runs in a database of its own: its outbox rows
			// stay unpublished and would otherwise sit in front of the
			// publisher's rows.
			_, baseURL := storetest.New(b)
			basePool, err := store.Open(ctx, baseURL, benchConns)
			if err != nil {
				b.Fatal(err)
			}
			defer basePool.Close()
			seedPatients(b, basePool, 0, n)
			srv := httptest.NewServer(server(proc))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConns}}
			note := "[2025-08-11 09:44 (System)] Cancelled: Patient deleted from system"

			baseline := func(i int) error {
				return baselineTx(ctx, basePool, int64(i+1), note, time.Now().UTC())
			}
			viaHTTP := func(i int) error { return postDeleted(client, srv.URL, i) }
			// The two sides run in interleaved chunks, so that
			// load from elsewhere on the machine hits both alike.
			b.ResetTimer()
			b.StopTimer()
			var base, took time.Duration
			done := map[bool]int{}   // events run so far, by side (true: HTTP)
			chunks := map[bool]int{} // chunks run so far, by side
			for _, isHTTP := range interleaved(benchRounds) {
				chunks[isHTTP]++
				from, to := done[isHTTP], n*chunks[isHTTP]/benchRounds
				fn, d := baseline, &base
				if isHTTP {
					fn, d = viaHTTP, &took
					b.StartTimer()
				}
				elapsed, err := run(to-from, func(i int) error { return fn(from + i) })
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				*d += elapsed
				done[isHTTP] = to
			}
			httpRate := float64(n) / took.Seconds()
			baseRate := float64(n) / base.Seconds()
			b.ReportMetric(httpRate, "events/s")
			b.ReportMetric(baseRate, "baseline-events/s")
			b.ReportMetric(httpRate/baseRate, "ratio")
		})
	}
}

// benchRounds and interleaved are benchtest's comparison plumbing, under the
// names this package's benchmarks (the publish benchmark too) use.
const benchRounds = benchtest.Rounds

var interleaved = benchtest.Interleaved

// BenchmarkTherapistBlocked10000 times one therapist.blocked over 10,000
// unsent anfragen (each with its own aktiv search): the exclusion, the
// cancellation and 10,000 outbox rows in one transaction.
func BenchmarkTherapistBlocked10000(b *testing.B) {
	const n = 10000
	pool, _ := storetest.New(b)
	h := server(handlers.Therapist(pool, nil, nil))
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		therapist := int64(1000 + i)
		insertUnsentAnfragen(b, pool, therapist, n)
		d := typed("therapist.blocked", "bench-"+strconv.Itoa(i), fmt.Sprintf(`{"therapist_id":%d,"reason":"x"}`, therapist))
		b.StartTimer()
		if code, _ := send(b, h, d); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "anfragen/s")
}
