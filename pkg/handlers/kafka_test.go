package handlers_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// The patient-deleted function in Kafka-direct mode, from a reference
// service's plain JSON record to the event on matching-events.
func TestPatientDeletedFunction_kafkaDirect_envelopeRecordCancelsTheSearchAndEmitsTheEvent(t *testing.T) {
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	search := insertSearch(t, pool, 7, "aktiv")

	cfg := kafkaDirect(brokers, url)
	if !cfg.KafkaDirect() {
		t.Fatal("configuration is not Kafka-direct")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, handlers.PatientDeleted(handlers.Settings{}), runtime.Options{Config: cfg})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	p := kafkatest.Producer(t, brokers)
	value := `{"eventId":"6c1b4f0e-0000-4000-8000-000000000007","eventType":"patient.deleted","version":"1.0",` +
		`"timestamp":"2025-08-11T09:44:00.123456","producer":"patient-service","payload":{"patient_id":7,"id":7}}`
	kafkatest.Produce(t, p, "patient-events", "7", value)

	rec := kafkatest.Read(t, brokers, "matching-events", 1)[0]
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

// kafkaDirect is the configuration of the patient-deleted function in
// Kafka-direct mode on brokers and the database url.
func kafkaDirect(brokers []string, url string) config.Common {
	return config.Common{
		Database: config.Database{URL: url, MaxConns: 4},
		Logging:  config.Logging{Level: "ERROR", Format: "json"},
		Kafka: config.Kafka{BootstrapServers: brokers, Topic: "patient-events", LogLevel: "WARNING",
			MatchingEventsTopic: "matching-events", DLQTopic: "matching-events-dlq"},
	}
}

// The communication-events function in Kafka-direct mode, from the
// communication service's record of a therapist's reply to the response on
// matching-events: the reply read, recorded, published.
func TestCommunicationEventsFunction_kafkaDirect_aDecidedReplyIsRecordedAndPublished(t *testing.T) {
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	id := replyAnfrage(t, pool, 900, 9)

	cfg := kafkaDirect(brokers, url)
	cfg.Kafka.Topic = "communication-events"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, handlers.CommunicationEvents(handlers.Settings{Matching: testMatching}), runtime.Options{Config: cfg})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	p := kafkatest.Producer(t, brokers)
	value := `{"eventId":"6c1b4f0e-0000-4000-8000-000000000900","eventType":"communication.email_response_received","version":"1.0",` +
		`"timestamp":"2025-08-12T09:44:00.123456","producer":"communication-service","payload":{"email_id":900,` +
		`"response_data":{"subject":"AW: Suche Psychotherapieplätze","body":"Guten Tag, ich kann beide Personen aufnehmen.\n\nViele Grüße",` +
		`"from":"praxis@example.org","received_at":"2025-08-12T09:40:00"}}}`
	kafkatest.Produce(t, p, "communication-events", "900", value)

	// response_received, cooling.period_started, two search.status_changed;
	// the partitions merge in no particular order.
	types := map[string]int{}
	for _, rec := range kafkatest.Read(t, brokers, "matching-events", 4) {
		var typ string
		for _, h := range rec.Headers {
			if string(h.Key) == "ce_type" {
				typ = string(h.Value)
			}
		}
		types[typ]++
		if typ != "therapeutenanfrage.response_received" {
			continue
		}
		want := fmt.Sprintf(`{"accepted_count":2,"anfrage_id":%d,"no_response_count":0,"rejected_count":0,"response_type":"vollstaendige_Annahme"}`, id)
		if got := canonicalJSON(t, string(rec.Value)); got != want || string(rec.Key) != fmt.Sprint(id) {
			t.Fatalf("key %s payload %s, want key %d payload %s", rec.Key, got, id, want)
		}
	}
	if want := map[string]int{"therapeutenanfrage.response_received": 1, "cooling.period_started": 1, "search.status_changed": 2}; !maps.Equal(types, want) {
		t.Fatalf("records %v, want %v", types, want)
	}
	if d := outcomes(t, pool, id); d[101] != "angenommen" || d[102] != "angenommen" {
		t.Fatalf("outcomes %v", d)
	}
}
