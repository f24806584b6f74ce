package followup_test

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/followup"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/store/storetest"
)

// benchRows is FOLLOW_UP_BENCH_ROWS (default 100,000; the closing note's
// numbers use 1,000,000), so that make bench stays short.
func benchRows(b *testing.B) int {
	if v := os.Getenv("FOLLOW_UP_BENCH_ROWS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			b.Fatalf("FOLLOW_UP_BENCH_ROWS=%q: want a number of at least 100", v)
		}
		return n
	}
	return 100_000
}

// seed fills the anfrage table like a platform's history, one row in a
// hundred due (the same shape as the store's selection benchmark): 85 %
// answered, 5 % already called, 3 % cancelled, 3 % unsent, 3 % sent in the
// last six days, 1 % due — sent 8 to 60 days ago and marked with
// anfragegroesse = 5 so that the benchmark can reset them. The therapists are
// 1…5000.
func seed(b *testing.B, pool *pgxpool.Pool, rows int) {
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
                ELSE (now() AT TIME ZONE 'utc') - (10 + (i * 7919) % 1000) * interval '1 day' - (i % 1440) * interval '1 minute'
           END AS sent
    FROM generate_series(1, $1::int) AS i
) s`, rows)
	if err != nil {
		b.Fatalf("seed: %v", err)
	}
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE matching_service.therapeutenanfrage`); err != nil {
		b.Fatalf("vacuum: %v", err)
	}
}

// memPeak samples the Go heap while a run goes on.
type memPeak struct {
	stop  chan struct{}
	done  sync.WaitGroup
	start uint64 // HeapInuse when the run began
	heap  uint64 // peak HeapInuse
}

func watchMemory() *memPeak {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m := &memPeak{stop: make(chan struct{}), start: s.HeapInuse}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		var s runtime.MemStats
		for {
			runtime.ReadMemStats(&s)
			m.heap = max(m.heap, s.HeapInuse)
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

// end stops sampling and returns the peak heap and its growth during the run.
func (m *memPeak) end() (peak, growth uint64) {
	close(m.stop)
	m.done.Wait()
	return m.heap, m.heap - min(m.start, m.heap)
}

// vmHWM is the process's peak resident set (VmHWM) in bytes, 0 if unknown.
func vmHWM() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkRun_dailyRun runs the whole job over FOLLOW_UP_BENCH_ROWS anfragen
// (1 % due) against the fake neighbours answering every request in 5 ms, as
// deployed (3 workers, the default DATABASE_MAX_CONNS of 4 minus the pager);
// ns/op is one run's wall time. The baseline in the same iteration is one
// worker, the reference's one-at-a-time loop. Reported: calls made, the peak
// Go heap during the run and its growth from the start of the run, the
// process's peak RSS (the fake, which keeps its 5,000 therapists and every
// call it received, runs in the same process, as do pgx and the HTTP
// clients), and the wall time of the one-worker run and the ratio.
//
//	FOLLOW_UP_BENCH_ROWS=1000000 go test -run '^$' -bench Run_dailyRun -benchtime 1x ./pkg/followup/
func BenchmarkRun_dailyRun(b *testing.B) {
	ctx := context.Background()
	pool, _ := storetest.New(b)
	rows := benchRows(b)
	start := time.Now()
	seed(b, pool, rows)
	b.Logf("seeded %d anfragen in %s", rows, time.Since(start).Round(time.Millisecond))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil)) // the JSON lines are written, not kept

	// prepare resets the due anfragen and returns a job on a fresh fake (no
	// calls from the last run to adopt).
	prepare := func(workers int) (*followup.Job, *fake.Fake) {
		if _, err := pool.Exec(ctx, `
UPDATE matching_service.therapeutenanfrage SET phone_call_id = NULL WHERE anfragegroesse = 5;
DELETE FROM matching_service.outbox`); err != nil {
			b.Fatal(err)
		}
		f, cfg := fake.Start(b)
		for id := int64(1); id <= 5000; id++ {
			f.AddTherapist(fake.SampleTherapist(map[string]any{"id": id}))
		}
		f.SetLatency(5 * time.Millisecond)
		nb := neighbours.NewClients(cfg)
		runtime.GC()
		return &followup.Job{
			Pool: pool, Therapists: nb.Therapists, Communication: nb.Communication, Log: log,
			ThresholdDays: 7, DefaultTime: "10:00", Location: berlin, Workers: workers,
		}, f
	}
	check := func(sum followup.Summary, err error, f *fake.Fake) int {
		n := len(f.PhoneCalls())
		if err != nil || sum.Scheduled != rows/100 || n != rows/100 {
			b.Fatalf("run: %s, %v, %d calls; want %d scheduled", sum, err, n, rows/100)
		}
		return n
	}

	var (
		baseline time.Duration
		calls    int
		heap     uint64
		growth   uint64
	)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		job, f := prepare(3)
		mem := watchMemory()
		b.StartTimer()
		sum, err := job.Run(ctx, followup.Options{})
		b.StopTimer()
		peak, grew := mem.end()
		heap, growth = max(heap, peak), max(growth, grew)
		calls += check(sum, err, f)

		job, f = prepare(1)
		t0 := time.Now()
		sum, err = job.Run(ctx, followup.Options{})
		baseline += time.Since(t0)
		check(sum, err, f)
		b.StartTimer()
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(calls)/n, "calls")
	b.ReportMetric(float64(heap)/(1<<20), "peak-heap-MB")
	b.ReportMetric(float64(growth)/(1<<20), "heap-growth-MB")
	b.ReportMetric(float64(vmHWM())/(1<<20), "VmHWM-MB")
	b.ReportMetric(baseline.Seconds()/n, "s-1-worker")
	b.ReportMetric(float64(baseline)/float64(b.Elapsed()), "x-faster-than-1-worker")
}
