package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/runtime"
)

// BenchmarkPatientDeletedGroupCommit is patient.deleted as Knative delivers
// it, with and without group commit: senders concurrent clients POST
// binary CloudEvents over loopback HTTP to the handler behind
// runtime.NewServer, which publishes each search.status_changed after
// commit through the HTTP sink to an httptest K_SINK answering 202. Three
// sides, each on a database and a pool of benchConns connections of its
// own, run in chunks in rotating order (load from elsewhere hits all
// alike); a chunk of an HTTP side is timed until its events are published:
//
//   - baseline: the bare transaction of one event (baselineTx: the inbox
//     row, the cancelling UPDATE, the outbox row) run directly with pgx
//     from senders goroutines;
//   - off: group commit off (HTTP_GROUP_COMMIT_MAX=0), one transaction per
//     request, as before;
//   - on: group commit as deployed by default (HTTP_GROUP_COMMIT_MAX 64, as
//     many lanes as connections; GROUP_COMMIT_BENCH_MAX and
//     GROUP_COMMIT_BENCH_LANES override them);
//   - lane1: group commit in one lane, the largest batches.
//
// Reported: events/s of each side, ratio (on over baseline), ratio-off and
// ratio-lane1; p50 and p99 of a request's latency (ms: from sending it to
// its answer) of the HTTP sides and of the baseline's transaction; the CPU
// time per event of each side (this process, whose client and sink count
// alike on the HTTP sides, and the side's database backends; it moves much
// less with the machine's other load than the rates); and the mean batch
// of both group-commit sides. `make bench-http` runs it at 1 and 8 senders.
func BenchmarkPatientDeletedGroupCommit(b *testing.B) {
	on := config.GroupCommit{Max: 64}.WithPool(benchConns)
	if v, err := strconv.Atoi(os.Getenv("GROUP_COMMIT_BENCH_MAX")); err == nil {
		on.Max = v
	}
	if v, err := strconv.Atoi(os.Getenv("GROUP_COMMIT_BENCH_LANES")); err == nil {
		on.Lanes = v
	}
	for _, senders := range []int{1, 8} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			benchGroupCommit(b, senders, on)
		})
	}
}

func benchGroupCommit(b *testing.B, senders int, on config.GroupCommit) {
	ctx := context.Background()
	n := b.N
	open, received, sender, client := publishedBench(b, benchConns)
	note := "[2025-08-11 09:44 (System)] Cancelled: Patient deleted from system"

	basePool := open()
	baseline := &timedSide{pool: basePool, do: func(i int) error {
		return baselineTx(ctx, basePool, int64(i+1), note, time.Now().UTC())
	}}
	viaHTTP := func(gc config.GroupCommit) (*timedSide, *metrics.Metrics) {
		pool := open()
		// Logged as in production (JSON, INFO: a line per event).
		pub := outbox.NewPublisher(pool, sender, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		m := metrics.New(metrics.Options{})
		srv := httptest.NewServer(runtime.NewServer(runtime.ServerOptions{
			Handler:     handlers.Patient(pool, pub, slog.New(slog.NewJSONHandler(io.Discard, nil))),
			GroupCommit: gc, Metrics: m, Source: handlers.PatientTopic,
		}))
		b.Cleanup(srv.Close)
		return &timedSide{pool: pool, pub: pub, do: func(i int) error { return postDeleted(client, srv.URL, i) }}, m
	}
	off, _ := viaHTTP(config.GroupCommit{})
	grouped, m := viaHTTP(on)
	lane1, m1 := viaHTTP(config.GroupCommit{Max: on.Max, Lanes: 1})

	sides := []*timedSide{baseline, off, grouped, lane1}
	b.ResetTimer()
	b.StopTimer()
	for r := range benchRounds {
		for k := range sides {
			j := (r + k) % len(sides)
			if r%2 == 1 {
				j = len(sides) - 1 - j
			}
			s := sides[j]
			if s == grouped {
				b.StartTimer()
			}
			err := s.chunk(ctx, senders, n*(s.chunks+1)/benchRounds)
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	if got := received.Load(); got < int64(3*n) {
		b.Fatalf("%d events received, want %d", got, 3*n)
	}
	b.ReportMetric(grouped.rate(), "events/s")
	b.ReportMetric(off.rate(), "off-events/s")
	b.ReportMetric(baseline.rate(), "baseline-events/s")
	b.ReportMetric(grouped.rate()/baseline.rate(), "ratio")
	b.ReportMetric(off.rate()/baseline.rate(), "ratio-off")
	b.ReportMetric(lane1.rate()/baseline.rate(), "ratio-lane1")
	for name, s := range map[string]*timedSide{"": grouped, "off-": off, "lane1-": lane1, "baseline-": baseline} {
		b.ReportMetric(s.percentile(0.50), name+"p50-ms")
		b.ReportMetric(s.percentile(0.99), name+"p99-ms")
		b.ReportMetric(float64(s.cpu.Microseconds())/float64(s.done), name+"cpu-µs/event")
	}
	for name, m := range map[string]*metrics.Metrics{"": m, "lane1-": m1} {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		batches := metricstest.Parse(b, rec.Body).Series("matching_group_commit_batch_size")
		if count := batches["source="+handlers.PatientTopic+",count"]; count > 0 {
			b.ReportMetric(batches["source="+handlers.PatientTopic+",sum"]/count, name+"events/batch")
		}
	}
}

// timedSide is one side of BenchmarkPatientDeletedGroupCommit: what it
// does for event i, the time its chunks took and every event's latency.
type timedSide struct {
	pool *pgxpool.Pool
	pub  *outbox.Publisher // flushed at the end of each chunk, if set
	do   func(i int) error

	chunks, done int
	took         time.Duration
	latencies    []time.Duration
	cpu          time.Duration // this process's and the side's backends'
}

// chunk runs the side's events up to to (exclusive) from senders
// goroutines.
func (s *timedSide) chunk(ctx context.Context, senders, to int) error {
	from := s.done
	lat := make([]time.Duration, to-from)
	cpu0 := processCPU() + backendsCPU(ctx, s.pool)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range senders {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(lat) {
					return
				}
				t0 := time.Now()
				if err := s.do(from + i); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	if s.pub != nil && firstErr == nil {
		firstErr = s.pub.Flush(ctx)
	}
	s.took += time.Since(start)
	s.cpu += processCPU() + backendsCPU(ctx, s.pool) - cpu0
	s.latencies = append(s.latencies, lat...)
	s.chunks++
	s.done = to
	return firstErr
}

func (s *timedSide) rate() float64 { return float64(s.done) / s.took.Seconds() }

// percentile is the q-quantile of the latencies in milliseconds.
func (s *timedSide) percentile(q float64) float64 {
	l := slices.Clone(s.latencies)
	if len(l) == 0 {
		return 0
	}
	slices.Sort(l)
	return float64(l[min(int(q*float64(len(l))), len(l)-1)].Microseconds()) / 1000
}
