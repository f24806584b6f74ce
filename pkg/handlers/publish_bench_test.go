package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// BenchmarkPatientDeletedPublished is patient.deleted as deployed: the
// handler behind runtime.NewServer over HTTP, publishing each search's
// search.status_changed after commit through the HTTP sink to a K_SINK that
// answers 202 (an httptest server in this process, as a KafkaSink on the
// same node would be), against the same SQL transaction run directly with
// pgx ("baseline"). For scale it also runs the handler over HTTP without a
// publisher ("nopublish") and with one whose sink accepts at once
// ("discardsink": the publisher's own cost, without the sends). Each side
// has its own database, a pool of the same size (DATABASE_MAX_CONNS: the
// default 4, and 8) and benchConns concurrent senders. The sides run in
// chunks in rotating order, so that load from elsewhere on the machine hits
// all alike; a chunk with a publisher is timed until it has published the
// chunk's events.
//
// Reported: events/s with publish and of the baseline; their ratio, and
// ratio-nopublish and ratio-discardsink; the share of events published
// after commit (the rest would wait for the relay); and, where /proc shows
// the PostgreSQL backends (a local server), the CPU time per event of each
// side — this process and its database's client backends (autovacuum not
// counted) — and cpu-ratio, baseline over with-publish, which moves much
// less than the rates with the machine's other load.
func BenchmarkPatientDeletedPublished(b *testing.B) {
	for _, conns := range []int32{4, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			ctx := context.Background()
			n := b.N
			open, received, sender, client := publishedBench(b, conns)
			note := "[2025-08-11 09:44 (System)] Cancelled: Patient deleted from system"

			basePool := open()
			baseline := &side{pool: basePool, do: func(i int) error {
				return baselineTx(ctx, basePool, int64(i+1), note, time.Now().UTC())
			}}
			// viaHTTP is the handler over HTTP on a database of its own,
			// publishing through s (none if nil).
			viaHTTP := func(s sink.Sender) *side {
				pool := open()
				var pub *outbox.Publisher
				proc := handlers.Patient(pool, nil, nil)
				if s != nil {
					// Logged as in production (JSON, INFO: a line per
					// published event).
					pub = outbox.NewPublisher(pool, s, slog.New(slog.NewJSONHandler(io.Discard, nil)))
					proc = handlers.Patient(pool, pub, nil)
				}
				srv := httptest.NewServer(server(proc))
				b.Cleanup(srv.Close)
				return &side{pool: pool, pub: pub, do: func(i int) error { return postDeleted(client, srv.URL, i) }}
			}
			plain := viaHTTP(nil)
			published := viaHTTP(sender)
			// The publisher's own cost: a sink that accepts at once.
			discarded := viaHTTP(discardSink{})
			pub := published.pub

			sides := []*side{baseline, plain, published, discarded}
			b.ResetTimer()
			b.StopTimer()
			for r := range benchRounds {
				for k := range sides {
					// Rotate the order and reverse it every other round.
					j := (r + k) % len(sides)
					if r%2 == 1 {
						j = len(sides) - 1 - j
					}
					s := sides[j]
					if s == published {
						b.StartTimer()
					}
					err := s.chunk(ctx, n*(s.chunks+1)/benchRounds)
					b.StopTimer()
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			left, _, err := pub.Backlog(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if got := received.Load() + int64(left); got < int64(n) {
				b.Fatalf("%d events received and %d waiting, want at least %d", received.Load(), left, n)
			}
			b.ReportMetric(published.rate(), "events/s")
			b.ReportMetric(baseline.rate(), "baseline-events/s")
			b.ReportMetric(published.rate()/baseline.rate(), "ratio")
			b.ReportMetric(plain.rate()/baseline.rate(), "ratio-nopublish")
			b.ReportMetric(discarded.rate()/baseline.rate(), "ratio-discardsink")
			b.ReportMetric(float64(n-left)/float64(n), "published-inline")
			if baseline.pgCPU > 0 && published.pgCPU > 0 {
				b.ReportMetric(baseline.cpuPerEvent(), "baseline-cpu-µs/event")
				b.ReportMetric(plain.cpuPerEvent(), "nopublish-cpu-µs/event")
				b.ReportMetric(published.cpuPerEvent(), "cpu-µs/event")
				b.ReportMetric(discarded.cpuPerEvent(), "discardsink-cpu-µs/event")
				b.ReportMetric(baseline.cpuPerEvent()/published.cpuPerEvent(), "cpu-ratio")
			}
		})
	}
}

// side is one side of BenchmarkPatientDeletedPublished: what it does for
// event i, and what its chunks took so far.
type side struct {
	pool *pgxpool.Pool
	pub  *outbox.Publisher // flushed at the end of each chunk, if set
	do   func(i int) error

	chunks, done int
	took         time.Duration
	goCPU, pgCPU time.Duration
}

// chunk runs the side's events up to to (exclusive).
func (s *side) chunk(ctx context.Context, to int) error {
	g0, p0 := processCPU(), backendsCPU(ctx, s.pool)
	start := time.Now()
	_, err := run(to-s.done, func(i int) error { return s.do(s.done + i) })
	if s.pub != nil && err == nil {
		// The chunk ends when its events are published too: their
		// publication must not run into the next chunk.
		err = s.pub.Flush(ctx)
	}
	s.took += time.Since(start)
	s.goCPU += processCPU() - g0
	s.pgCPU += backendsCPU(ctx, s.pool) - p0
	s.chunks++
	s.done = to
	return err
}

func (s *side) rate() float64 { return float64(s.done) / s.took.Seconds() }

func (s *side) cpuPerEvent() float64 {
	return float64((s.goCPU + s.pgCPU).Microseconds()) / float64(s.done)
}

// postDeleted POSTs patient.deleted of patient i+1 as a binary CloudEvent.
// publishedBench is what the benchmarks of patient.deleted over HTTP with
// its publication share: open gives a fresh database of b.N seeded patients
// on a pool of conns connections; received counts what the sink behind
// sender took; client posts the events.
func publishedBench(b *testing.B, conns int32) (open func() *pgxpool.Pool, received *atomic.Int64, sender sink.Sender, client *http.Client) {
	b.Helper()
	open = func() *pgxpool.Pool {
		_, url := storetest.New(b)
		pool, err := store.Open(context.Background(), url, conns)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(pool.Close)
		seedPatients(b, pool, 0, b.N)
		return pool
	}
	received = new(atomic.Int64)
	sinkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		received.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	b.Cleanup(sinkSrv.Close)
	sender = sink.NewHTTP(sinkSrv.URL, nil, 5*time.Second)
	b.Cleanup(func() { _ = sender.Close() })
	client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2 * benchConns}}
	return open, received, sender, client
}

func postDeleted(client *http.Client, url string, i int) error {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(fmt.Appendf(nil, `{"patient_id":%d}`, i+1)))
	req.Header.Set("Ce-Specversion", "1.0")
	req.Header.Set("Ce-Id", strconv.Itoa(i))
	req.Header.Set("Ce-Source", "/bench")
	req.Header.Set("Ce-Type", "patient.deleted")
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// processCPU is the CPU time (user and system) this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendsCPU is the CPU time the PostgreSQL backends of pool's database
// have used, read from /proc (0 when the server is not on this machine).
// Only the side's own chunks run on its database, so the difference across
// a chunk is that chunk's.
func backendsCPU(ctx context.Context, pool *pgxpool.Pool) time.Duration {
	rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend'`)
	if err != nil {
		return 0
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return 0
	}
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0
		}
		// utime and stime are the 14th and 15th fields, counted after the
		// command name in parentheses (which may hold spaces).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			return 0
		}
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		s, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0
		}
		ticks += u + s
	}
	// USER_HZ is 100 on Linux.
	return time.Duration(ticks) * 10 * time.Millisecond
}
