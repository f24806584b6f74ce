package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// withoutHistory takes, out of the database of pool, what the history
// adds to a transaction: the history triggers of the three tables, the
// cause and log_id of outbox rows and their key index, and the counting
// triggers.
func withoutHistory(b testing.TB, pool *pgxpool.Pool) {
	b.Helper()
	if _, err := pool.Exec(context.Background(), `
		DO $$
		DECLARE t text;
		BEGIN
		    FOREACH t IN ARRAY ARRAY['platzsuche', 'therapeutenanfrage', 'therapeut_anfrage_patient'] LOOP
		        EXECUTE format('ALTER TABLE matching_service.%I DISABLE TRIGGER history_insert_delete', t);
		        EXECUTE format('ALTER TABLE matching_service.%I DISABLE TRIGGER history_update', t);
		    END LOOP;
		END $$;
		ALTER TABLE matching_service.therapeutenanfrage DISABLE TRIGGER business_count_insert;
		ALTER TABLE matching_service.therapeutenanfrage DISABLE TRIGGER business_count_update;
		ALTER TABLE matching_service.outbox ALTER COLUMN log_id DROP DEFAULT, ALTER COLUMN cause DROP DEFAULT;
		DROP INDEX matching_service.idx_outbox_partition_key;
		ALTER TABLE matching_service.outbox DISABLE TRIGGER business_count;
		ALTER TABLE matching_service.processed_events DISABLE TRIGGER business_count;`); err != nil {
		b.Fatal(err)
	}
}

// preHistoryPatient is the patient-events handler as it was before the
// history: the inbox's transaction without a cause and without the event
// log (only the processed_events row claims the key), the same cancellation
// and outbox row, on a database without the history (withoutHistory).
func preHistoryPatient(pool *pgxpool.Pool) runtime.Handler {
	return runtime.HandlerFunc(func(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
		in, err := events.Decode(e)
		if err != nil {
			return in, events.Rejected, err
		}
		at := time.Now().UTC()
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, `INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type)
				VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, handlers.PatientGroup, in.DedupeKey, in.Type)
			if err != nil || tag.RowsAffected() == 0 {
				return err
			}
			d, err := events.ParsePatientDeleted(in.Payload)
			if err != nil {
				return err
			}
			cancelled, err := store.CancelPatientSearches(ctx, tx, d.PatientID,
				matching.Note(at, matching.AuthorSystem, handlers.PatientDeletedNote), at)
			if err != nil {
				return err
			}
			out := make([]events.Outgoing, 0, len(cancelled))
			for _, c := range cancelled {
				old := c.OldStatus
				out = append(out, events.NewSearchStatusChanged(events.SearchStatusChangedData{
					SearchID: c.ID, PatientID: c.PatientID, OldStatus: &old, NewStatus: matching.StatusAbgebrochen}))
			}
			_, err = outbox.Add(ctx, tx, out...)
			return err
		})
		if err != nil {
			return in, events.Failed, err
		}
		return in, events.Processed, nil
	})
}

// BenchmarkPatientDeleted_history compares patient.deleted over HTTP
// (CloudEvents decoding, inbox, cancellation, outbox, status) with the
// history — the cause set at the transaction's begin, the consumed event
// logged with its payload, the search's history row, the outbox row's cause
// and order, the counters, all in the event's transaction — against the
// handler as it was before the history (preHistoryPatient on a database
// without it), with pools of the same size and the same number of
// concurrent senders, in interleaved chunks. It also reports what the
// history takes on disk per event: the history, the event log and what the
// outbox takes more (tables, indexes and TOAST).
func BenchmarkPatientDeleted_history(b *testing.B) {
	ctx := context.Background()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchConns}}
	open := func(history bool) *side {
		_, url := storetest.New(b)
		pool, err := store.Open(ctx, url, benchConns)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		h := runtime.Handler(handlers.Patient(pool, nil, nil))
		if !history {
			withoutHistory(b, pool)
			h = preHistoryPatient(pool)
		}
		seedPatients(b, pool, 0, b.N)
		srv := httptest.NewServer(server(h))
		b.Cleanup(srv.Close)
		return &side{pool: pool, do: func(i int) error { return postDeleted(client, srv.URL, i) }}
	}
	with, without := open(true), open(false)
	// What the history takes: the history, the event log and what the
	// outbox takes more than without it (its cause and log_id columns and
	// key index), tables, indexes and TOAST.
	size := func(s *side, tables ...string) int64 {
		var n int64
		for _, t := range tables {
			var m int64
			if err := s.pool.QueryRow(ctx, `SELECT pg_total_relation_size($1)`, "matching_service."+t).Scan(&m); err != nil {
				b.Fatal(err)
			}
			n += m
		}
		return n
	}
	logged := func() int64 {
		return size(with, "history", "event_log", "outbox") - size(without, "event_log", "outbox")
	}
	sizeBefore := logged()

	b.ResetTimer()
	b.StopTimer()
	for _, measured := range interleaved(benchRounds) {
		s := without
		if measured {
			s = with
			b.StartTimer()
		}
		err := s.chunk(ctx, b.N*(s.chunks+1)/benchRounds)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(with.rate(), "events/s")
	b.ReportMetric(without.rate(), "without-history-events/s")
	b.ReportMetric(with.rate()/without.rate(), "ratio")
	if with.pgCPU > 0 && without.pgCPU > 0 {
		// The CPU time per event moves much less than the rates with the
		// machine's other load.
		b.ReportMetric(with.cpuPerEvent(), "cpu-µs/event")
		b.ReportMetric(without.cpuPerEvent(), "without-history-cpu-µs/event")
		b.ReportMetric(without.cpuPerEvent()/with.cpuPerEvent(), "cpu-ratio")
		b.ReportMetric(float64(with.goCPU.Microseconds())/float64(with.done), "go-cpu-µs/event")
		b.ReportMetric(float64(without.goCPU.Microseconds())/float64(without.done), "without-history-go-cpu-µs/event")
	}
	// The size is measured after VACUUM on both sides.
	for _, s := range []*side{with, without} {
		if _, err := s.pool.Exec(ctx, `VACUUM matching_service.history, matching_service.event_log, matching_service.outbox`); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(logged()-sizeBefore)/float64(b.N), "history-bytes/event")
}
