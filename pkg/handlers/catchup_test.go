package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store/storetest"
)

// The catch-up: N patient.deleted records wait in the broker, then the
// patient-deleted function starts in Kafka-direct mode and works off the
// backlog; done when every search is cancelled and N events are on
// matching-events. make test runs it small, for each batch size, and checks
// the outcome; make bench-catchup (CATCHUP_N, default 100,000) prints the
// rate and CPU per event of each batch size of CATCHUP_BATCHES, measured in
// the same run.
func TestCatchUp_kafkaDirectWorksOffABacklogWithEveryBatchSize(t *testing.T) {
	n := envInt(t, "CATCHUP_N", 300)
	sizes := strings.Split(os.Getenv("CATCHUP_BATCHES"), ",")
	if os.Getenv("CATCHUP_BATCHES") == "" {
		sizes = []string{strconv.Itoa(runtime.DefaultBatchSize), "1"}
	}
	var rates []float64
	for _, s := range sizes {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 1 {
			t.Fatalf("CATCHUP_BATCHES: %q is no batch size", s)
		}
		r := catchUp(t, n, size)
		rates = append(rates, r.rate)
		t.Logf("batch %4d: %d events in %v = %.0f events/s; CPU per event: Go %.1f µs, PostgreSQL backends %.1f µs; WAL %.0f B/event",
			size, n, r.took.Round(time.Millisecond), r.rate, r.goCPU, r.pgCPU, r.walBytes)
		if os.Getenv("CATCHUP_N") != "" {
			fmt.Printf("batch=%d events=%d seconds=%.2f events/s=%.0f go_cpu_us/event=%.1f pg_cpu_us/event=%.1f wal_io_us/event=%.1f wal_bytes/event=%.0f peak_rss_mb=%d\n",
				size, n, r.took.Seconds(), r.rate, r.goCPU, r.pgCPU, r.walIO, r.walBytes, peakRSSMB())
		}
	}
	if len(rates) == 2 && os.Getenv("CATCHUP_N") != "" {
		fmt.Printf("ratio batch %s / batch %s = %.2f\n", strings.TrimSpace(sizes[0]), strings.TrimSpace(sizes[1]), rates[0]/rates[1])
	}
}

type catchUpResult struct {
	took                   time.Duration
	rate                   float64
	goCPU, pgCPU, walBytes float64 // per event
	walIO                  float64 // µs per event writing and flushing WAL, timed by the function's backends
}

func catchUp(t *testing.T, n, batchSize int) catchUpResult {
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status)
		SELECT g, 'aktiv'::suchstatus FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	// A live database has statistics (autovacuum); without them the
	// planner would scan the freshly filled table for every patient.
	if _, err := pool.Exec(ctx, `ANALYZE matching_service.platzsuche`); err != nil {
		t.Fatal(err)
	}
	produceDeleted(t, brokers, n)

	// The function's connections are told apart by their application_name.
	sep := "?"
	if strings.Contains(url, "?") {
		sep = "&"
	}
	// Its WAL writes and flushes are timed (pg_stat_wal; superuser setting).
	cfg := kafkaDirect(brokers, url+sep+"application_name=catchup-function&track_wal_io_timing=on")
	cfg.Kafka.BatchSize = batchSize
	// The function's own log at its default level, formatted but discarded.
	log := slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	walBefore := walBytes(t, pool)
	syncBefore := walSyncTime(t, pool)
	cpuBefore := processCPU()
	start := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(runCtx, handlers.PatientDeleted(handlers.Settings{}), runtime.Options{Config: cfg, Log: log})
	}()
	// The outbox relay runs beside it, as deployed (RELAY_INTERVAL or its
	// PingSource): what the function's publisher leaves when its queue is
	// full (one transaction per record outpaces it) is published by it.
	go relayEvery(runCtx, t, pool, brokers, time.Second)
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	deadline := time.Now().Add(time.Duration(n/50+60) * time.Second)
	// The broker is polled (cheap); the database only once the events are
	// out, so that the polling adds little to what is measured.
	for {
		emitted := topicRecords(t, client, "matching-events")
		if emitted >= int64(n) &&
			count(t, pool, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`) == n {
			break
		}
		if time.Now().After(deadline) {
			cancelled := count(t, pool, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`)
			cancel()
			<-done
			t.Fatalf("batch %d: %d of %d searches cancelled, %d events on matching-events", batchSize, cancelled, n, emitted)
		}
		time.Sleep(20 * time.Millisecond)
	}
	took := time.Since(start)
	goCPU := processCPU() - cpuBefore
	pgCPU := backendCPU(t, pool)
	wal := walBytes(t, pool) - walBefore
	time.Sleep(1100 * time.Millisecond) // backends report their WAL statistics within a second
	walSync := walSyncTime(t, pool) - syncBefore
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if got := topicRecords(t, client, "matching-events"); got != int64(n) {
		t.Errorf("batch %d: %d events on matching-events, want %d", batchSize, got, n)
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(n) }
	return catchUpResult{took: took, rate: float64(n) / took.Seconds(), goCPU: per(goCPU), pgCPU: per(pgCPU),
		walBytes: float64(wal) / float64(n), walIO: per(walSync)}
}

// relayEvery runs a pass of the outbox relay every interval until ctx ends.
func relayEvery(ctx context.Context, t *testing.T, pool *pgxpool.Pool, brokers []string, interval time.Duration) {
	s, err := sink.NewKafka(brokers, "matching-events")
	if err != nil {
		t.Error(err)
		return
	}
	defer s.Close()
	pub := outbox.NewPublisher(pool, s, discardLog())
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
			_, _ = pub.Relay(ctx)
		}
	}
}

// produceDeleted puts n patient.deleted envelope records (patients 1..n,
// keyed by patient) on patient-events.
func produceDeleted(t *testing.T, brokers []string, n int) {
	t.Helper()
	p := kafkatest.Producer(t, brokers)
	const chunk = 2000
	for from := 1; from <= n; from += chunk {
		var msgs []*sarama.ProducerMessage
		for id := from; id < from+chunk && id <= n; id++ {
			value := fmt.Sprintf(`{"eventId":"catchup-%d","eventType":"patient.deleted","version":"1.0",`+
				`"timestamp":"2025-08-11T09:44:00.123456","producer":"patient-service","payload":{"patient_id":%d}}`, id, id)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: "patient-events",
				Key: sarama.StringEncoder(strconv.Itoa(id)), Value: sarama.StringEncoder(value)})
		}
		if err := p.SendMessages(msgs); err != nil {
			t.Fatal(err)
		}
	}
}

// topicRecords is the number of records on topic (the sum of its
// partitions' newest offsets; nothing is deleted from the embedded broker).
func topicRecords(t *testing.T, c sarama.Client, topic string) int64 {
	t.Helper()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range parts {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		sum += off
	}
	return sum
}

func peakRSSMB() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss / 1024
}

// backendCPU is the CPU time of the PostgreSQL backends of the function's
// pool (application_name catchup-function) in the test's database, read
// from /proc; 0 where the server runs elsewhere.
func backendCPU(t *testing.T, pool *pgxpool.Pool) time.Duration {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'catchup-function'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var total time.Duration
	for rows.Next() {
		var pid int
		if err := rows.Scan(&pid); err != nil {
			t.Fatal(err)
		}
		total += procCPU(pid)
	}
	return total
}

// procCPU reads utime and stime of a process from /proc/<pid>/stat.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100) // clock ticks of 1/100 s
}

// walSyncTime is the time spent writing and flushing WAL (pg_stat_wal) by
// the backends that time it: only the function's set track_wal_io_timing.
func walSyncTime(t *testing.T, pool *pgxpool.Pool) time.Duration {
	t.Helper()
	var ms float64
	if err := pool.QueryRow(context.Background(), `SELECT wal_write_time + wal_sync_time FROM pg_stat_wal`).Scan(&ms); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ms * float64(time.Millisecond))
}

// walBytes is the WAL the server has written so far (all databases).
func walBytes(t *testing.T, pool *pgxpool.Pool) int64 {
	t.Helper()
	var b int64
	if err := pool.QueryRow(context.Background(), `SELECT pg_current_wal_lsn() - '0/0'::pg_lsn`).Scan(&b); err != nil {
		t.Fatal(err)
	}
	return b
}

func envInt(t *testing.T, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s: %q is not a positive number", name, v)
	}
	return n
}
