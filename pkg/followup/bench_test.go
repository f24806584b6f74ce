package followup_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/followup"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/store/storetest"
)

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
// worker, the reference's one-at-a-time loop. The fake neighbours run in a
// child process (TestFakeNeighboursProcess), so the memory figures are the
// job's own (with pgx, the HTTP clients and the test harness). Reported:
// calls made; the peak Go heap during the run (HeapInuse, garbage not yet
// collected included) and its growth from the start of the run; the
// process's peak RSS (VmHWM); the wall time of the one-worker run and the
// ratio.
//
//	FOLLOW_UP_BENCH_ROWS=1000000 go test -run '^$' -bench Run_dailyRun -benchtime 1x ./pkg/followup/
func BenchmarkRun_dailyRun(b *testing.B) {
	ctx := context.Background()
	pool, _ := storetest.New(b)
	rows := storetest.FollowUpBenchRows(b)
	start := time.Now()
	storetest.SeedFollowUpHistory(b, pool, rows)
	b.Logf("seeded %d anfragen in %s", rows, time.Since(start).Round(time.Millisecond))
	log := slog.New(slog.NewJSONHandler(io.Discard, nil)) // the JSON lines are written, not kept

	// prepare resets the due anfragen and returns a job on a fresh fake in
	// its own process (no calls from the last run to adopt, and none of the
	// fake's memory in this one), and a function that stops the fake and
	// returns how many calls it received.
	prepare := func(workers int) (*followup.Job, func() int) {
		if _, err := pool.Exec(ctx, `
UPDATE matching_service.therapeutenanfrage SET phone_call_id = NULL WHERE anfragegroesse = 5;
DELETE FROM matching_service.outbox`); err != nil {
			b.Fatal(err)
		}
		url, stop := startFakeProcess(b)
		nb := neighbours.NewClients(config.Neighbours{TherapistURL: url, CommunicationURL: url, Timeout: 5 * time.Second})
		runtime.GC()
		job := &followup.Job{
			Pool: pool, Therapists: nb.Therapists, Communication: nb.Communication, Log: log,
			ThresholdDays: 7, DefaultTime: "10:00", Location: berlin, Workers: workers,
		}
		return job, func() int {
			defer stop()
			return countCalls(b, url)
		}
	}
	check := func(sum followup.Summary, err error, calls int) {
		if err != nil || sum.Scheduled != rows/100 || calls != rows/100 {
			b.Fatalf("run: %s, %v, %d calls; want %d scheduled", sum, err, calls, rows/100)
		}
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
		job, release := prepare(3)
		mem := watchMemory()
		b.StartTimer()
		sum, err := job.Run(ctx, followup.Options{})
		b.StopTimer()
		peak, grew := mem.end()
		heap, growth = max(heap, peak), max(growth, grew)
		n := release()
		check(sum, err, n)
		calls += n

		job, release = prepare(1)
		t0 := time.Now()
		sum, err = job.Run(ctx, followup.Options{})
		baseline += time.Since(t0)
		check(sum, err, release())
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

// fakeAddrEnv asks the test binary to serve the fake neighbours instead of
// testing: TestFakeNeighboursProcess is the benchmark's child process.
const fakeAddrEnv = "FOLLOW_UP_BENCH_FAKE"

// TestFakeNeighboursProcess serves the fake neighbours — 5,000 therapists,
// every answer after 5 ms — for BenchmarkRun_dailyRun from a separate
// process; it prints its URL and serves until its stdin closes. Outside the
// benchmark it is skipped.
func TestFakeNeighboursProcess(t *testing.T) {
	if os.Getenv(fakeAddrEnv) == "" {
		t.Skip("the benchmark's helper process")
	}
	f := fake.New()
	for id := int64(1); id <= 5000; id++ {
		f.AddTherapist(fake.SampleTherapist(map[string]any{"id": id}))
	}
	f.SetLatency(5 * time.Millisecond)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Printf("listening http://%s\n", ln.Addr())
	if err := f.Serve(ctx, ln); err != nil {
		t.Fatal(err)
	}
}

// startFakeProcess starts TestFakeNeighboursProcess in a child process and
// returns its URL and a function that stops it.
func startFakeProcess(b *testing.B) (string, func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFakeNeighboursProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), fakeAddrEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() {
		stdin.Close()
		_ = cmd.Wait()
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if url, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return url, stop
		}
	}
	stop()
	b.Fatal("the fake neighbours process did not start")
	return "", nil
}

// countCalls asks the fake how many phone calls it holds.
func countCalls(b *testing.B, url string) int {
	b.Helper()
	resp, err := http.Get(url + "/api/phone-calls?limit=1")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Total int `json:"total"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		b.Fatal(err)
	}
	return list.Total
}
