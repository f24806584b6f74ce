package outbox_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// benchEnv is a database, a K_SINK that accepts everything (like a KafkaSink
// answering 202) and a publisher logging as in production (JSON, INFO).
type benchEnv struct {
	pool   *pgxpool.Pool
	sender sink.Sender
	pub    *outbox.Publisher
	event  cloudevents.Event
}

func newBenchEnv(b *testing.B) *benchEnv {
	b.Helper()
	pool, _ := storetest.New(b)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(srv.Close)
	s := sink.NewHTTP(srv.URL, nil, 5*time.Second)
	b.Cleanup(func() { s.Close() })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	e, err := events.NewCloudEvent("0b6a3f0e-5d7c-4a43-9b4e-1f1f2f3f4f5f", events.SearchStatusChanged, "42",
		time.Now(), []byte(`{"search_id":42,"patient_id":7,"old_status":"aktiv","new_status":"abgebrochen"}`))
	if err != nil {
		b.Fatal(err)
	}
	return &benchEnv{pool: pool, sender: s, pub: outbox.NewPublisher(pool, s, log), event: e}
}

// rows commits n outbox rows (each its own key, as searches and anfragen
// mostly are) and returns their ids.
func (e *benchEnv) rows(b *testing.B, n int) []string {
	b.Helper()
	evs := make([]events.Outgoing, n)
	for i := range evs {
		evs[i] = events.NewSearchStatusChanged(events.SearchStatusChangedData{
			SearchID: int64(i + 1), PatientID: 7, OldStatus: ptr("aktiv"), NewStatus: "abgebrochen"})
	}
	var ids []string
	err := store.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		ids, err = outbox.Add(context.Background(), tx, evs...)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return ids
}

func ptr[T any](v T) *T { return &v }

// BenchmarkPublish measures the inline publish of one committed row (claim,
// send, mark, commit) against the bare send of the same CloudEvent with the
// same sender, interleaved one for one so that both see the same machine.
// Reported: events/s of each and their ratio.
func BenchmarkPublish(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	ids := e.rows(b, b.N)
	var send, publish time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := e.sender.Send(ctx, e.event); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		e.pub.Publish(ctx, ids[i:i+1])
		publish += time.Since(mid)
		send += mid.Sub(start)
	}
	b.StopTimer()
	if n, _, _ := e.pub.Backlog(ctx); n != 0 {
		b.Fatalf("%d rows left unpublished", n)
	}
	report(b, send, publish, b.N)
}

// BenchmarkPublishParallel is BenchmarkPublish with 8 concurrent callers (the
// request concurrency of one instance) on a pool of 4 connections (the
// DATABASE_MAX_CONNS default): first the bare sends, then the publishes.
func BenchmarkPublishParallel(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	small, err := store.Open(ctx, e.pool.Config().ConnString(), 4)
	if err != nil {
		b.Fatal(err)
	}
	defer small.Close()
	pub := outbox.NewPublisher(small, e.sender, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	ids := e.rows(b, b.N)
	const workers = 8
	run := func(fn func(i int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					fn(i)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	send := run(func(int) {
		if err := e.sender.Send(ctx, e.event); err != nil {
			b.Error(err)
		}
	})
	publish := run(func(i int) { pub.Publish(ctx, ids[i:i+1]) })
	b.StopTimer()
	if n, _, _ := pub.Backlog(ctx); n != 0 {
		b.Fatalf("%d rows left unpublished", n)
	}
	report(b, send, publish, b.N)
}

func report(b *testing.B, send, publish time.Duration, n int) {
	sendRate := float64(n) / send.Seconds()
	publishRate := float64(n) / publish.Seconds()
	b.ReportMetric(sendRate, "send-events/s")
	b.ReportMetric(publishRate, "publish-events/s")
	b.ReportMetric(publishRate/sendRate, "publish/send")
}

// BenchmarkCommitThenPublish measures what the inline publish adds to a
// handler: a transaction that writes one outbox row and commits (with the
// WAL flush, as every handler's does), then Publish, against the same
// transaction alone. 8 callers on a pool of 4 connections, as in
// BenchmarkPublishParallel; reported: events/s of both and their ratio.
func BenchmarkCommitThenPublish(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	pool, err := store.Open(ctx, e.pool.Config().ConnString(), 4)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	pub := outbox.NewPublisher(pool, e.sender, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	commit := func(i int) []string {
		var ids []string
		err := store.WithTx(ctx, pool, func(tx pgx.Tx) error {
			var err error
			ids, err = outbox.Add(ctx, tx, events.NewSearchStatusChanged(events.SearchStatusChangedData{
				SearchID: int64(i + 1), PatientID: 7, OldStatus: ptr("aktiv"), NewStatus: "abgebrochen"}))
			return err
		})
		if err != nil {
			b.Error(err)
		}
		return ids
	}
	const workers = 8
	run := func(fn func(i int)) time.Duration {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= b.N {
						return
					}
					fn(i)
				}
			})
		}
		wg.Wait()
		return time.Since(start)
	}
	b.ResetTimer()
	alone := run(func(i int) { commit(i) })
	withPublish := run(func(i int) { pub.Publish(ctx, commit(i)) })
	b.StopTimer()
	aloneRate := float64(b.N) / alone.Seconds()
	publishRate := float64(b.N) / withPublish.Seconds()
	b.ReportMetric(aloneRate, "commit-events/s")
	b.ReportMetric(publishRate, "commit+publish-events/s")
	b.ReportMetric(publishRate/aloneRate, "ratio")
}
