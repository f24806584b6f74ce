package handlers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// readRecords returns the first n records of topic, across its partitions.
func readRecords(t testing.TB, brokers []string, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *sarama.ConsumerMessage, 100)
	for _, p := range parts {
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				out <- m
			}
		}()
	}
	var got []*sarama.ConsumerMessage
	deadline := time.After(15 * time.Second)
	for len(got) < n {
		select {
		case m := <-out:
			got = append(got, m)
		case <-deadline:
			t.Fatalf("read %d records from %s, want %d", len(got), topic, n)
		}
	}
	return got
}

// The patient-deleted function in Kafka-direct mode, from a reference
// service's plain JSON record to the event on matching-events.
func TestPatientDeletedFunction_kafkaDirect_envelopeRecordCancelsTheSearchAndEmitsTheEvent(t *testing.T) {
	broker, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	pool, url := storetest.New(t)
	search := insertSearch(t, pool, 7, "aktiv")

	cfg := config.Common{
		Database: config.Database{URL: url, MaxConns: 4},
		Logging:  config.Logging{Level: "ERROR", Format: "json"},
		Kafka: config.Kafka{BootstrapServers: broker.Addrs, Topic: "patient-events", LogLevel: "WARNING",
			MatchingEventsTopic: "matching-events", DLQTopic: "matching-events-dlq"},
		Port: 0,
	}
	if !cfg.KafkaDirect() {
		t.Fatal("configuration is not Kafka-direct")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, runtime.Options{
			Name: "patient-deleted", Config: cfg,
			Topic: handlers.PatientTopic, Group: handlers.PatientGroup,
			NewHandler: func(d runtime.Deps) runtime.Handler { return handlers.Patient(d.Pool, d.Publisher, d.Log) },
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	pcfg := sarama.NewConfig()
	pcfg.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer(broker.Addrs, pcfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	value := `{"eventId":"6c1b4f0e-0000-4000-8000-000000000007","eventType":"patient.deleted","version":"1.0",` +
		`"timestamp":"2025-08-11T09:44:00.123456","producer":"patient-service","payload":{"patient_id":7,"id":7}}`
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "patient-events", Key: sarama.StringEncoder("7"), Value: sarama.StringEncoder(value)}); err != nil {
		t.Fatal(err)
	}

	rec := readRecords(t, broker.Addrs, "matching-events", 1)[0]
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	if string(rec.Key) != fmt.Sprint(search) || headers["ce_type"] != "search.status_changed" {
		t.Fatalf("record key %q type %q, want key %d type search.status_changed", rec.Key, headers["ce_type"], search)
	}
	want := fmt.Sprintf(`{"new_status":"abgebrochen","old_status":"aktiv","patient_id":7,"search_id":%d}`, search)
	if got := canonicalJSON(t, string(rec.Value)); got != want {
		t.Fatalf("payload %s, want %s", got, want)
	}
	if got, _ := readSearch(t, pool, search); got.Status != "abgebrochen" {
		t.Fatalf("search is %s, want abgebrochen", got.Status)
	}
	// The publisher marks the row right after the sink's acknowledgement.
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		n := count(t, pool, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`)
		if n == 0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatalf("%d events left unpublished", n)
		}
	}
}
