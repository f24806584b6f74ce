package loadtest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// Monitor samples, while a run lasts, the connections to the database
// (pg_stat_activity: all of them, and those running a statement) and the
// memory of this process (resident set, Go heap in use, goroutines). The
// functions of make load run in this process, so its memory is theirs plus
// the clients'.
type Monitor struct {
	conn   *pgx.Conn
	db     string
	every  time.Duration
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	samples int
	stats   Usage
}

// Usage is what a Monitor saw: peaks during the run, and the process's
// memory before it began and after it ended (after a GC).
type Usage struct {
	ConnsPeak, ActivePeak   int
	ConnsBefore, ConnsAfter int
	RSSBefore, RSSPeak      uint64
	RSSAfter                uint64
	HeapBefore, HeapPeak    uint64
	HeapAfter               uint64
	GoroutinesBefore        int
	GoroutinesPeak          int
	GoroutinesAfter         int
	Samples                 int
}

// StartMonitor connects to the database of dbURL (one connection of its
// own, not counted) and samples every interval until Stop.
func StartMonitor(ctx context.Context, dbURL string, every time.Duration) (*Monitor, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &Monitor{conn: conn, db: conn.Config().Database, every: every, done: make(chan struct{})}
	runtime.GC()
	total, _, err := m.conns(ctx)
	if err != nil {
		conn.Close(ctx)
		return nil, err
	}
	m.stats.ConnsBefore = total
	m.stats.RSSBefore, m.stats.HeapBefore, m.stats.GoroutinesBefore = memory()
	ctx, m.cancel = context.WithCancel(ctx)
	go m.loop(ctx)
	return m, nil
}

func (m *Monitor) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		total, active, err := m.conns(ctx)
		rss, heap, gr := memory()
		m.mu.Lock()
		if err == nil {
			m.stats.ConnsPeak = max(m.stats.ConnsPeak, total)
			m.stats.ActivePeak = max(m.stats.ActivePeak, active)
		}
		m.stats.RSSPeak = max(m.stats.RSSPeak, rss)
		m.stats.HeapPeak = max(m.stats.HeapPeak, heap)
		m.stats.GoroutinesPeak = max(m.stats.GoroutinesPeak, gr)
		m.stats.Samples++
		m.mu.Unlock()
	}
}

// conns counts the other sessions on the monitored database. The query
// does not take the sampling loop's context: pgx closes a connection whose
// query is cancelled, and the last sample after the run needs it.
func (m *Monitor) conns(ctx context.Context) (total, active int, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = m.conn.QueryRow(ctx, `
		SELECT count(*), count(*) FILTER (WHERE state = 'active')
		FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, m.db).Scan(&total, &active)
	return
}

// Stop ends the sampling, waits settle for the stack to calm down, samples
// once more after a GC and returns what was seen.
func (m *Monitor) Stop(ctx context.Context, settle time.Duration) Usage {
	m.cancel()
	<-m.done
	time.Sleep(settle)
	runtime.GC()
	m.mu.Lock()
	defer m.mu.Unlock()
	if total, _, err := m.conns(ctx); err == nil {
		m.stats.ConnsAfter = total
	}
	m.stats.RSSAfter, m.stats.HeapAfter, m.stats.GoroutinesAfter = memory()
	m.conn.Close(ctx)
	return m.stats
}

// memory returns this process's resident set (0 where /proc is missing),
// the Go heap in use and the number of goroutines.
func memory() (rss, heap uint64, goroutines int) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return residentSet(), ms.HeapInuse, runtime.NumGoroutine()
}

func residentSet() uint64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// Write prints the usage in two lines.
func (u Usage) Write(w io.Writer) {
	fmt.Fprintf(w, "database connections (pg_stat_activity): before %d, peak %d (peak running a statement %d), after %d\n",
		u.ConnsBefore, u.ConnsPeak, u.ActivePeak, u.ConnsAfter)
	fmt.Fprintf(w, "memory (whole process): RSS %s → peak %s → %s after; Go heap %s → peak %s → %s after; goroutines %d → peak %d → %d after\n",
		mib(u.RSSBefore), mib(u.RSSPeak), mib(u.RSSAfter), mib(u.HeapBefore), mib(u.HeapPeak), mib(u.HeapAfter),
		u.GoroutinesBefore, u.GoroutinesPeak, u.GoroutinesAfter)
}

func mib(b uint64) string { return fmt.Sprintf("%.0fMiB", float64(b)/(1<<20)) }
