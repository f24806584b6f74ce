package handlers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// Environment of the child process TestKillMidBatch starts (this test
// binary again, running only TestKillMidBatch_child).
const (
	childBrokers = "KILLTEST_BROKERS"
	childDB      = "KILLTEST_DATABASE_URL"
	childBatch   = "KILLTEST_BATCH_SIZE"
)

// TestKillMidBatch_child is the patient-deleted function in Kafka-direct
// mode as a process of its own, for TestKillMidBatch; it runs only when
// started by it.
func TestKillMidBatch_child(t *testing.T) {
	if os.Getenv(childBrokers) == "" {
		t.Skip("started by TestKillMidBatch only")
	}
	cfg := kafkaDirect(strings.Split(os.Getenv(childBrokers), ","), os.Getenv(childDB))
	cfg.Kafka.BatchSize, _ = strconv.Atoi(os.Getenv(childBatch))
	if err := runtime.Run(context.Background(), handlers.PatientDeleted(handlers.Settings{}), runtime.Options{Config: cfg}); err != nil {
		t.Fatal(err)
	}
}

// A process killed (SIGKILL) in the middle of a batch, its transaction
// under way with part of the batch applied, changes nothing of that batch;
// restarted, it is delivered the batch again and applies every event
// exactly once: one cancellation, one note, one history entry, one
// processed_events row and one emitted event per patient.
func TestKillMidBatch_theBatchIsDeliveredAgainAndNothingIsAppliedTwice(t *testing.T) {
	const n, batch, held = 400, 100, 150
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status)
		SELECT g, 'aktiv'::suchstatus FROM generate_series(1, $1) g`, n); err != nil {
		t.Fatal(err)
	}
	// Every record on one partition, in batches of up to 100: the one with
	// patient 150, whose search this test holds locked, waits for it with
	// its keys claimed and the patients before 150 applied in its
	// transaction.
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var msgs []*sarama.ProducerMessage
	for id := 1; id <= n; id++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: "patient-events", Partition: 0, Key: sarama.StringEncoder(strconv.Itoa(id)),
			Value: sarama.StringEncoder(fmt.Sprintf(`{"eventId":"kill-%d","eventType":"patient.deleted","payload":{"patient_id":%d}}`, id, id))})
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}

	lock, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `SELECT 1 FROM matching_service.platzsuche WHERE patient_id = $1 FOR UPDATE`, held); err != nil {
		t.Fatal(err)
	}
	first := startChild(t, brokers, url, batch)
	waitFor(t, "the batch to wait for the held search", func() bool {
		return count(t, pool, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`) > 0
	})
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// The batches before committed; the killed one (its claim of every key
	// and the effects before the held search were done) left nothing.
	if got := count(t, pool, `SELECT count(*) FROM matching_service.processed_events WHERE patient_id >= $1`, held); got != 0 {
		t.Fatalf("after the kill %d events of the held patient or later are recorded, want none", got)
	}
	before := count(t, pool, `SELECT count(*) FROM matching_service.processed_events`)
	if cancelled := count(t, pool, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`); cancelled != before {
		t.Fatalf("after the kill %d searches are cancelled and %d events recorded", cancelled, before)
	}

	second := startChild(t, brokers, url, batch)
	defer func() {
		_ = second.Process.Kill()
		_ = second.Wait()
	}()
	waitFor(t, "every search to be cancelled", func() bool {
		return count(t, pool, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`) == n
	})
	waitFor(t, "every event to be published", func() bool {
		return count(t, pool, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`) == 0 ||
			relayOnce(t, pool, brokers)
	})

	for q, want := range map[string]int{
		`SELECT count(*) FROM matching_service.processed_events`:                                        n,
		`SELECT count(*) FROM matching_service.outbox`:                                                  n,
		`SELECT count(*) FROM matching_service.history WHERE tbl = 'platzsuche' AND op = 'UPDATE'`:      n,
		`SELECT count(*) FROM matching_service.platzsuche WHERE notizen LIKE '%' || E'\n' || '%'`:       0,
		`SELECT count(DISTINCT cause->>'dedupe_key') FROM matching_service.history WHERE op = 'UPDATE'`: n,
	} {
		if got := count(t, pool, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ids := map[string]int{}
	for _, rec := range kafkatest.Read(t, brokers, "matching-events", int(topicRecords(t, client, "matching-events"))) {
		for _, h := range rec.Headers {
			if string(h.Key) == "ce_id" {
				ids[string(h.Value)]++
			}
		}
	}
	if len(ids) != n {
		t.Errorf("%d distinct events on matching-events, want %d", len(ids), n)
	}
}

// startChild starts this test binary as the patient-deleted function.
func startChild(t *testing.T, brokers []string, url string, batch int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKillMidBatch_child$", "-test.count=1")
	cmd.Env = append(os.Environ(), childBrokers+"="+strings.Join(brokers, ","), childDB+"="+url,
		childBatch+"="+strconv.Itoa(batch))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// relayOnce publishes what a killed process committed and did not publish,
// as the outbox relay would; it reports whether nothing is left.
func relayOnce(t *testing.T, pool *pgxpool.Pool, brokers []string) bool {
	t.Helper()
	s, err := sink.NewKafka(brokers, "matching-events")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := outbox.NewPublisher(pool, s, discardLog())
	if _, err := pub.Relay(context.Background()); err != nil {
		t.Logf("relay: %v", err)
	}
	var left int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`).Scan(&left)
	return left == 0
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(90 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
