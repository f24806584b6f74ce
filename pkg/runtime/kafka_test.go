package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/sink"
)

// envelope is a reference-service record value.
func envelope(id, eventType, payload string) string {
	return fmt.Sprintf(`{"eventId":%q,"eventType":%q,"version":"1.0","timestamp":"2025-08-11T09:44:00.123456","producer":"patient-service","payload":%s}`,
		id, eventType, payload)
}

// scripted is a Handler that decodes like the real one, fails transiently
// a scripted number of times per event id, and records every attempt.
type scripted struct {
	mu       sync.Mutex
	failures map[string]int
	attempts []string
	handled  []events.Inbound
	done     chan struct{}
	want     int
}

func (s *scripted) Handle(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts = append(s.attempts, in.ID)
	if err != nil {
		return in, events.Rejected, err
	}
	if s.failures[in.ID] > 0 {
		s.failures[in.ID]--
		return in, events.Failed, fmt.Errorf("database unavailable")
	}
	s.handled = append(s.handled, in)
	if len(s.handled) == s.want {
		close(s.done)
	}
	return in, events.Processed, nil
}

func (s *scripted) wait(t testing.TB) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("handled %d events, want %d (attempts %v)", len(s.handled), s.want, s.attempts)
	}
}

func runConsumer(t testing.TB, brokers []string, topic, group string, h runtime.Handler) (stop func()) {
	t.Helper()
	return runConsumerWith(t, brokers, topic, group, h, nil)
}

// runConsumerWith runs a consumer that feeds m (nil: no metrics).
func runConsumerWith(t testing.TB, brokers []string, topic, group string, h runtime.Handler, m *metrics.Metrics) (stop func()) {
	t.Helper()
	dlq, err := sink.NewKafka(brokers, "matching-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	c := runtime.NewConsumer(runtime.ConsumerOptions{
		Brokers: brokers, Topic: topic, Group: group, DeadLetter: dlq,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		Metrics: m,
	}, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("consumer: %v", err)
			}
			dlq.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

func committedOffsets(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin(brokers, sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		if b.Offset >= 0 {
			out[p] = b.Offset
		}
	}
	return out
}

func TestConsumer_retriesATransientFailureInPlaceAndKeepsPartitionOrder(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	var ids []string
	for i := 1; i <= 5; i++ {
		id := fmt.Sprintf("ev-%d", i)
		ids = append(ids, id)
		kafkatest.Produce(t, p, "patient-events", "7", envelope(id, "patient.deleted", `{"patient_id":7}`))
	}
	h := &scripted{failures: map[string]int{"ev-2": 2}, done: make(chan struct{}), want: 5}
	stop := runConsumer(t, brokers, "patient-events", "test-order", h)
	h.wait(t)
	stop()

	wantAttempts := []string{"ev-1", "ev-2", "ev-2", "ev-2", "ev-3", "ev-4", "ev-5"}
	if diff := cmp.Diff(wantAttempts, h.attempts); diff != "" {
		t.Fatalf("attempts (-want +got):\n%s", diff)
	}
	var total int64
	for _, off := range committedOffsets(t, brokers, "test-order", "patient-events") {
		total += off
	}
	if total != 5 {
		t.Fatalf("committed offsets sum to %d, want 5 (every record, none skipped)", total)
	}
	// The plain records reach the handler wrapped as a KafkaSource would.
	first := h.handled[0]
	if first.Key != "7" || first.DedupeKey != "event:ev-1" || first.Type != "patient.deleted" {
		t.Fatalf("first event %+v: want key 7, dedupe key event:ev-1, type patient.deleted", first)
	}
}

func TestConsumer_restartedConsumerResumesAfterTheLastCommittedRecord(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "therapist-events", "1", envelope("a", "therapist.blocked", `{"therapist_id":1}`))
	h1 := &scripted{done: make(chan struct{}), want: 1}
	stop := runConsumer(t, brokers, "therapist-events", "test-resume", h1)
	h1.wait(t)
	stop()

	kafkatest.Produce(t, p, "therapist-events", "1", envelope("b", "therapist.blocked", `{"therapist_id":1}`))
	h2 := &scripted{done: make(chan struct{}), want: 1}
	runConsumer(t, brokers, "therapist-events", "test-resume", h2)
	h2.wait(t)
	if diff := cmp.Diff([]string{"b"}, h2.attempts); diff != "" {
		t.Fatalf("second consumer attempts (-want +got):\n%s", diff)
	}
}

func TestConsumer_sendsAPoisonRecordToTheDeadLetterTopicAndGoesOn(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "patient-events", "7", "this is not JSON")
	kafkatest.Produce(t, p, "patient-events", "7", envelope("good", "patient.deleted", `{"patient_id":7}`))
	h := &scripted{done: make(chan struct{}), want: 1}
	runConsumer(t, brokers, "patient-events", "test-dlq", h)
	h.wait(t)

	recs := kafkatest.Read(t, brokers, "matching-events-dlq", 1)
	m := recs[0]
	headers := map[string]string{}
	for _, rh := range m.Headers {
		headers[string(rh.Key)] = string(rh.Value)
	}
	if string(m.Value) != "this is not JSON" || string(m.Key) != "7" {
		t.Fatalf("dead letter value %q key %q, want the original record", m.Value, m.Key)
	}
	want := map[string]string{
		"ce_type":             events.KafkaEventType,
		"ce_kafkatopic":       "patient-events",
		"ce_kafkaoffset":      "0",
		"ce_deadlettercode":   "400",
		"ce_deadletterreason": "event data is not a JSON object",
	}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("dead letter header %s = %q, want %q", k, headers[k], v)
		}
	}
	if !strings.HasPrefix(headers["ce_id"], "partition:") {
		t.Errorf("dead letter id %q, want partition:<p>/offset:<o>", headers["ce_id"])
	}
	if diff := cmp.Diff([]string{"partition:" + headers["ce_kafkapartition"] + "/offset:0", "good"}, h.attempts); diff != "" {
		t.Fatalf("attempts (-want +got):\n%s", diff)
	}
}

func TestConsumer_decodesCloudEventRecords(t *testing.T) {
	brokers := kafkatest.Start(t)
	cfg := sarama.NewConfig()
	s, err := kafka_sarama.NewSender(brokers, cfg, "communication-events")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	e := cloudevents.NewEvent()
	e.SetID("ce-1")
	e.SetSource("communication-service")
	e.SetType("communication.email_sent")
	e.SetExtension("partitionkey", "900")
	_ = e.SetData(cloudevents.ApplicationJSON, json.RawMessage(`{"email_id":900}`))
	if err := s.Send(context.Background(), binding.ToMessage(&e)); err != nil {
		t.Fatal(err)
	}
	h := &scripted{done: make(chan struct{}), want: 1}
	runConsumer(t, brokers, "communication-events", "test-ce", h)
	h.wait(t)
	got := h.handled[0]
	want := events.Inbound{Type: events.EmailSent, ID: "ce-1", Source: "communication-service",
		DedupeKey: "ce:communication-service#ce-1", Key: "900", Payload: json.RawMessage(`{"email_id":900}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("handled (-want +got):\n%s", diff)
	}
}
