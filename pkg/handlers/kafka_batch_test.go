package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// In one batch of a partition: a record that does not decode is
// dead-lettered before the transaction, one whose effect fails inside it
// is dead-lettered alone, a redelivered one is a duplicate, and every
// other record applies, in order; the group's offset moves past all of
// them.
func TestPatientDeletedFunction_kafkaDirect_poisonInABatchIsDeadLetteredAloneAndTheRestApplies(t *testing.T) {
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	var searches []int64
	for p := int64(1); p <= 6; p++ {
		searches = append(searches, insertSearch(t, pool, p, "aktiv"))
	}
	cfg := sarama.NewConfig()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	prod, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	record := func(value string) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: "patient-events", Partition: 0, Value: sarama.StringEncoder(value)}
	}
	deleted := func(id string, patient any) *sarama.ProducerMessage {
		return record(fmt.Sprintf(`{"eventId":%q,"eventType":"patient.deleted","payload":{"patient_id":%v}}`, id, patient))
	}
	// All on partition 0 before the function starts: one fetch, one batch.
	msgs := []*sarama.ProducerMessage{
		deleted("a", 1), deleted("b", 2),
		record(`{"eventId":"c","eventType":"patient.deleted","payload":[]}`), // no payload object: poison at decoding
		deleted("d", 3),
		deleted("e", `"drei"`), // no patient id: poison inside the transaction
		deleted("b", 2),        // redelivery of b
		deleted("f", 4), deleted("g", 5), deleted("h", 6),
	}
	if err := prod.SendMessages(msgs); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, handlers.PatientDeleted(handlers.Settings{}),
			runtime.Options{Config: kafkaDirect(brokers, url), Log: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	dead := kafkatest.Read(t, brokers, "matching-events-dlq", 2)
	var offsets []string
	for _, d := range dead {
		for _, h := range d.Headers {
			if string(h.Key) == "ce_kafkaoffset" {
				offsets = append(offsets, string(h.Value))
			}
		}
	}
	if fmt.Sprint(offsets) != "[2 4]" && fmt.Sprint(offsets) != "[4 2]" {
		t.Fatalf("dead-lettered offsets %v, want 2 and 4", offsets)
	}
	waitFor(t, "the six searches to be cancelled", func() bool {
		return count(t, pool, `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`) == 6
	})
	if n := count(t, pool, `SELECT count(*) FROM matching_service.processed_events`); n != 6 {
		t.Errorf("%d processed events, want the 6 valid ones", n)
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.outbox`); n != 6 {
		t.Errorf("%d events emitted, want 6", n)
	}
	// The offsets of the whole batch are committed (auto-commit, 1 s).
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	waitFor(t, "the group's offset to pass the batch", func() bool {
		res, err := admin.ListConsumerGroupOffsets(handlers.PatientGroup, map[string][]int32{"patient-events": {0}})
		if err != nil {
			return false
		}
		b := res.GetBlock("patient-events", 0)
		return b != nil && b.Offset == int64(len(msgs))
	})
}
