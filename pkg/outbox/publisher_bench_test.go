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

// benchRounds is how many chunks each side of a comparison runs in; the
// sides alternate ABBA BAAB …, so that load from elsewhere on the machine
// and any drift hit both alike.
const benchRounds = 16

// compare runs b.N items of side a and of side m (measured) in interleaved
// chunks and returns the wall time of each. fn(from, to) runs the items
// [from, to) of its side.
func compare(b *testing.B, a, m func(from, to int)) (base, measured time.Duration) {
	b.Helper()
	done := map[bool]int{}
	chunks := map[bool]int{}
	for r := range benchRounds {
		first := r%2 == 1
		for _, isM := range []bool{first, !first} {
			chunks[isM]++
			from, to := done[isM], b.N*chunks[isM]/benchRounds
			start := time.Now()
			if isM {
				m(from, to)
				measured += time.Since(start)
			} else {
				a(from, to)
				base += time.Since(start)
			}
			done[isM] = to
		}
	}
	return base, measured
}

// parallel calls fn(i) for i in [from, to) from workers goroutines.
func parallel(workers, from, to int, fn func(i int)) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// flush waits until pub has tried everything handed to it.
func flush(b *testing.B, pub *outbox.Publisher) {
	if err := pub.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkPublish measures the publication of one committed row at a time
// (Publish and waiting for its batch: claim, send, mark, commit) against the
// bare send of the same CloudEvent with the same sender, in interleaved
// chunks. Nothing is batched here: it is the cost of a lone event.
// Reported: events/s of each and their ratio.
func BenchmarkPublish(b *testing.B) {
	e := newBenchEnv(b)
	ctx := context.Background()
	ids := e.rows(b, b.N)
	b.ResetTimer()
	send, publish := compare(b,
		func(from, to int) {
			for range to - from {
				if err := e.sender.Send(ctx, e.event); err != nil {
					b.Fatal(err)
				}
			}
		},
		func(from, to int) {
			for i := from; i < to; i++ {
				e.pub.Publish(ctx, ids[i:i+1])
				flush(b, e.pub)
			}
		})
	b.StopTimer()
	if n, _, _ := e.pub.Backlog(ctx); n != 0 {
		b.Fatalf("%d rows left unpublished", n)
	}
	report(b, send, publish, b.N)
}

// BenchmarkPublishParallel is BenchmarkPublish with 8 concurrent callers (the
// request concurrency of one instance) on a pool of 4 connections (the
// DATABASE_MAX_CONNS default), each handing over one row, the chunk timed
// until all of its rows are published: the calls made while a batch is in
// flight share the next one. The bare sends run from 8 goroutines too.
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
	b.ResetTimer()
	send, publish := compare(b,
		func(from, to int) {
			parallel(workers, from, to, func(int) {
				if err := e.sender.Send(ctx, e.event); err != nil {
					b.Error(err)
				}
			})
		},
		func(from, to int) {
			parallel(workers, from, to, func(i int) { pub.Publish(ctx, ids[i:i+1]) })
			flush(b, pub)
		})
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

// BenchmarkCommitThenPublish measures what the publication adds to a
// handler: a transaction that writes one outbox row and commits (with the
// WAL flush, as every handler's does), then Publish, against the same
// transaction alone. 8 callers on a pool of 4 connections, as in
// BenchmarkPublishParallel; a chunk with Publish is timed until its rows are
// published. Reported: events/s of both and their ratio.
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
	b.ResetTimer()
	alone, withPublish := compare(b,
		func(from, to int) { parallel(workers, from, to, func(i int) { commit(i) }) },
		func(from, to int) {
			parallel(workers, from, to, func(i int) { pub.Publish(ctx, commit(b.N+i)) })
			flush(b, pub)
		})
	b.StopTimer()
	aloneRate := float64(b.N) / alone.Seconds()
	publishRate := float64(b.N) / withPublish.Seconds()
	b.ReportMetric(aloneRate, "commit-events/s")
	b.ReportMetric(publishRate, "commit+publish-events/s")
	b.ReportMetric(publishRate/aloneRate, "ratio")
}
