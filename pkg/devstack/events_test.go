package devstack

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/localkafka"
)

func readOne(t *testing.T, brokers []string, p Published) *sarama.ConsumerMessage {
	t.Helper()
	c, err := sarama.NewConsumer(brokers, saramaConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition(p.Topic, p.Partition, p.Offset)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	select {
	case m := <-pc.Messages():
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no record")
	}
	return nil
}

func TestPublish_envelopeGoesToThePatientTopicKeyedByPatient(t *testing.T) {
	b, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := Publish(context.Background(), b.Addrs, "patient.deleted", `{"patient_id":3}`, FormEnvelope, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Topic != "patient-events" || p.Key != "3" {
		t.Fatalf("published to %s key %q, want patient-events key 3", p.Topic, p.Key)
	}
	m := readOne(t, b.Addrs, p)
	var env map[string]any
	if err := json.Unmarshal(m.Value, &env); err != nil {
		t.Fatal(err)
	}
	if env["eventType"] != "patient.deleted" || env["eventId"] != p.ID || env["producer"] != "patient-service" || env["version"] != "1.0" {
		t.Fatalf("envelope %v", env)
	}
	if pl, _ := env["payload"].(map[string]any); pl["patient_id"] != float64(3) {
		t.Fatalf("payload %v", env["payload"])
	}
	if len(m.Headers) != 0 {
		t.Fatalf("an envelope record has no headers, got %d", len(m.Headers))
	}
	if line := FormatRecord(m); !strings.Contains(line, "patient.deleted") || !strings.Contains(line, `{"patient_id":3}`) {
		t.Fatalf("FormatRecord = %q", line)
	}
}

func TestPublish_cloudEventInBinaryMode(t *testing.T) {
	b, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p, err := Publish(context.Background(), b.Addrs, "communication.email_sent", `{"email_id":12}`, FormCloudEvent, "")
	if err != nil {
		t.Fatal(err)
	}
	m := readOne(t, b.Addrs, p)
	h := map[string]string{}
	for _, rh := range m.Headers {
		h[string(rh.Key)] = string(rh.Value)
	}
	if h["ce_type"] != "communication.email_sent" || h["ce_id"] != p.ID || h["ce_source"] != "communication-service" {
		t.Fatalf("headers %v", h)
	}
	if string(m.Key) != "12" || p.Topic != "communication-events" {
		t.Fatalf("key %q topic %s", m.Key, p.Topic)
	}
	if string(m.Value) != `{"email_id":12}` {
		t.Fatalf("value %s", m.Value)
	}
}

func TestPublish_rejectsBadInput(t *testing.T) {
	for name, c := range map[string]struct{ typ, data, form string }{
		"not JSON":     {"patient.deleted", "{", FormEnvelope},
		"unknown type": {"order.placed", `{"id":1}`, FormEnvelope},
		"unknown form": {"patient.deleted", `{"patient_id":1}`, "avro"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := Publish(context.Background(), []string{"127.0.0.1:1"}, c.typ, c.data, c.form, ""); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestFormatRecord_deadLetterShowsTheEnvelopeAndTheReason(t *testing.T) {
	m := &sarama.ConsumerMessage{
		Topic: "matching-events-dlq", Partition: 1, Offset: 7, Key: []byte("vier"),
		Headers: []*sarama.RecordHeader{
			{Key: []byte("ce_type"), Value: []byte("dev.knative.kafka.event")},
			{Key: []byte("ce_deadletterreason"), Value: []byte(`field patient_id: must be an integer, got "vier"`)},
		},
		Value: []byte(`{"eventId":"e1","eventType":"patient.deleted","version":"1.0","payload":{"patient_id":"vier"}}`),
	}
	want := `matching-events-dlq/1@7  patient.deleted                          key=vier   {"patient_id":"vier"}  rejected: field patient_id: must be an integer, got "vier"`
	if got := FormatRecord(m); got != want {
		t.Errorf("FormatRecord =\n%s\nwant\n%s", got, want)
	}
}

func TestFollowUpEnv_pointsTheJobAtTheStack(t *testing.T) {
	st := State{DatabaseURL: "postgres://db/matching_dev", Neighbours: "http://127.0.0.1:8010", Brokers: []string{"127.0.0.1:9092"}}
	env := FollowUpEnv([]string{"DATABASE_URL=postgres://elsewhere", "K_SINK=http://sink", "FOLLOW_UP_THRESHOLD_DAYS=3", "PATH=/bin"}, st)
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{
		"DATABASE_URL": st.DatabaseURL, "PATIENT_SERVICE_URL": st.Neighbours, "THERAPIST_SERVICE_URL": st.Neighbours,
		"COMMUNICATION_SERVICE_URL": st.Neighbours, "GEOCODING_SERVICE_URL": st.Neighbours,
		"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092", "FOLLOW_UP_THRESHOLD_DAYS": "3", "PATH": "/bin", "LOG_FORMAT": "text",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("environment (-want +got):\n%s", d)
	}
}
