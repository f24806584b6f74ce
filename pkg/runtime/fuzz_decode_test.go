package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/cloudevents/sdk-go/protocol/kafka_sarama/v2"
	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
)

// The two fuzz targets of this file feed the event decoder the three shapes
// an event arrives in, the way each transport delivers them: a structured
// CloudEvent (application/cloudevents+json), a binary one (ce_ headers or
// Ce- headers, the data as the body) and the reference's envelope in a
// plain Kafka record (wrapped as dev.knative.kafka.event). Whatever the
// bytes, decoding must not panic, a rejection must be a fault.Malformed or
// fault.Invalid error with a message (a 4xx, so the event is dead-lettered,
// not retried), and an accepted event must decode to the same Inbound when
// it is encoded again in another shape.

// realPayloads are the payloads the seed tests and the README send.
var realPayloads = []string{
	`{"patient_id":7,"id":7}`,
	`{"patient_id":7,"patient_data":{"vorname":"Anna","plz":"10115"}}`,
	`{"therapist_id":3,"reason":"Urlaub"}`,
	`{"therapist_id":3,"reason":null}`,
	`{"therapist_id":3,"therapist_data":{"plz":"10117"}}`,
	`{"email_id":900,"therapist_id":3}`,
	`{"email_id":900,"email_data":{"therapist_id":3}}`,
	`{"email_id":900,"response_data":{"subject":"AW: Ref: A12","body":"Person 1 nehme ich gerne.","from":"praxis@example.org","received_at":"2025-08-12T09:00:00"}}`,
	`{"call_id":55}`,
	`{"phone_call_id":55}`,
}

// refEnvelope is a reference-service record value, as kafka_test.go sends.
func refEnvelope(id, eventType, payload string) string {
	b, _ := json.Marshal(map[string]any{"eventId": id, "eventType": eventType, "version": "1.0",
		"timestamp": "2025-08-11T09:44:00.123456", "producer": "patient-service", "payload": json.RawMessage(payload)})
	return string(b)
}

// headerLines reads "name: value" lines into header pairs; the fuzzer
// writes the headers of a record or a request this way.
func headerLines(s string) [][2]string {
	var out [][2]string
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			out = append(out, [2]string{k, strings.TrimPrefix(v, " ")})
		}
	}
	return out
}

// checkRejection is the invariant of a refused event: bad input that
// retrying cannot fix, answered with a 4xx and a one-line message.
func checkRejection(t *testing.T, err error) {
	t.Helper()
	fe := fault.As(err)
	if fe == nil || (fe.Kind != fault.Malformed && fe.Kind != fault.Invalid) {
		t.Fatalf("rejection %v (kind %v), want fault.Malformed or fault.Invalid", err, fault.KindOf(err))
	}
	if strings.TrimSpace(fe.Message) == "" || reason(err) == internalReason {
		t.Fatalf("rejection without a message: %#v", fe)
	}
	if s := fault.EventStatus(err); s < 400 || s > 499 {
		t.Fatalf("rejection answered %d", s)
	}
}

// checkPayloadParsers runs every payload parser on an accepted payload: each
// either reads it or refuses it as fault.Invalid with a message.
func checkPayloadParsers(t *testing.T, p json.RawMessage) {
	t.Helper()
	errs := []error{}
	_, err := events.ParsePatientDeleted(p)
	errs = append(errs, err)
	_, err = events.ParseTherapistBlocked(p)
	errs = append(errs, err)
	_, err = events.ParseEmailEvent(p)
	errs = append(errs, err)
	_, err = events.ParseEmailResponse(p)
	errs = append(errs, err)
	_, err = events.ParsePhoneCallCompleted(p)
	errs = append(errs, err)
	for _, err := range errs {
		if err != nil && (fault.KindOf(err) != fault.Invalid || fault.As(err).Message == "") {
			t.Fatalf("payload parser: %v (kind %v), want fault.Invalid with a message", err, fault.KindOf(err))
		}
	}
}

// FuzzKafkaRecord decodes a record as the Kafka-direct consumer does
// (recordEvent, then events.Decode).
func FuzzKafkaRecord(f *testing.F) {
	binary := "ce_specversion: 1.0\nce_id: abc-1\nce_source: /patient-service\nce_type: patient.deleted\ncontent-type: application/json"
	for _, p := range realPayloads {
		f.Add([]byte("7"), []byte(refEnvelope("e-1", "patient.deleted", p)), "")
		f.Add([]byte("7"), []byte(p), binary)
		structured := `{"specversion":"1.0","id":"abc-1","source":"/s","type":"patient.deleted","partitionkey":"7","datacontenttype":"application/json","data":` + p + `}`
		f.Add([]byte("7"), []byte(structured), "content-type: application/cloudevents+json")
	}
	f.Add([]byte(nil), []byte(`{"event_id":"e-2","event_type":"communication.email_sent","producer":"communication-service","payload":{"email_id":1}}`), "content-type: application/json")
	f.Add([]byte("k"), []byte(`{"eventType":"x","payload":"not an object"}`), "")
	f.Add([]byte("k"), []byte(`{"eventId":"a","eventId":"b","eventType":"x","payload":{}}`), "")
	f.Add([]byte("k"), []byte(`[]`), "content-type: application/cloudevents-batch+json")
	f.Fuzz(func(t *testing.T, key, value []byte, headers string) {
		msg := &sarama.ConsumerMessage{Topic: "patient-events", Partition: 1, Offset: 42, Key: key, Value: value,
			Timestamp: time.Date(2025, 8, 12, 10, 0, 0, 0, time.UTC)}
		for _, h := range headerLines(headers) {
			msg.Headers = append(msg.Headers, &sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		in, err := decodeRecord(msg)
		if err != nil {
			checkRejection(t, err)
			// The dead letter of a poison record must be publishable.
			if d := deadLetter(mustEvent(recordEvent(msg)), msg, events.Rejected, err, 1); d.Validate() != nil {
				t.Fatalf("dead letter is not a valid CloudEvent: %v", d.Validate())
			}
			return
		}
		checkPayloadParsers(t, in.Payload)
		e, _ := recordEvent(msg)
		for _, structured := range []bool{false, true} {
			again, err := decodeRecord(kafkaRecord(t, e, msg, structured))
			if err != nil {
				t.Fatalf("accepted %+v, the same event re-encoded (structured %v) is refused: %v", in, structured, err)
			}
			if d := cmp.Diff(in, again, sameJSON); d != "" {
				t.Fatalf("re-encoded (structured %v) decodes differently (-first +again):\n%s", structured, d)
			}
		}
		if e.Type() == events.KafkaEventType {
			again, err := decodeRecord(envelopeRecord(in, msg))
			if err != nil || !cmp.Equal(in, again, sameJSON) {
				t.Fatalf("the envelope written back from %+v decodes to %+v, %v", in, again, err)
			}
		}
	})
}

// sameJSON compares payloads as JSON values: a structured CloudEvent
// carries its data inside its own JSON, and the SDK that writes it may
// spell a character another way ("&" as "\u0026"), which every reader
// takes for the same text.
var sameJSON = cmp.Comparer(func(a, b json.RawMessage) bool {
	va, errA := jsonValue(a)
	vb, errB := jsonValue(b)
	if errA != nil || errB != nil {
		return bytes.Equal(a, b)
	}
	return cmp.Equal(va, vb)
})

func jsonValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func mustEvent(e cloudevents.Event, _ error) cloudevents.Event { return e }

// decodeRecord is what the consumer's handler sees of a record.
func decodeRecord(msg *sarama.ConsumerMessage) (events.Inbound, error) {
	e, err := recordEvent(msg)
	if err != nil {
		return events.Inbound{}, err
	}
	return events.Decode(e)
}

// kafkaRecord is e as a CloudEvents producer writes it, in binary or
// structured mode, at msg's coordinates.
func kafkaRecord(t *testing.T, e cloudevents.Event, msg *sarama.ConsumerMessage, structured bool) *sarama.ConsumerMessage {
	t.Helper()
	ctx := binding.WithForceBinary(context.Background())
	if structured {
		ctx = binding.WithForceStructured(context.Background())
	}
	var pm sarama.ProducerMessage
	if err := kafka_sarama.WriteProducerMessage(ctx, binding.ToMessage(&e), &pm); err != nil {
		t.Fatalf("encoding an accepted event: %v", err)
	}
	out := &sarama.ConsumerMessage{Topic: msg.Topic, Partition: msg.Partition, Offset: msg.Offset, Key: msg.Key, Timestamp: msg.Timestamp}
	if pm.Key != nil {
		out.Key, _ = pm.Key.Encode()
	}
	if pm.Value != nil {
		out.Value, _ = pm.Value.Encode()
	}
	for _, h := range pm.Headers {
		out.Headers = append(out.Headers, &sarama.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return out
}

// envelopeRecord writes in back as the reference's envelope in a plain
// record at msg's coordinates.
func envelopeRecord(in events.Inbound, msg *sarama.ConsumerMessage) *sarama.ConsumerMessage {
	env := map[string]any{"eventType": in.Type, "payload": in.Payload}
	if id, ok := strings.CutPrefix(in.DedupeKey, "event:"); ok {
		env["eventId"] = id
	}
	value, _ := json.Marshal(env)
	out := *msg
	out.Value = value
	out.Headers = nil
	return &out
}

// FuzzHTTPEvent posts a request to a function's HTTP server whose handler
// decodes the event: the answer is 200 or a 4xx with a one-line reason,
// never a 5xx, and an accepted event decodes the same when it is posted
// again in binary and in structured mode.
func FuzzHTTPEvent(f *testing.F) {
	binary := "Ce-Specversion: 1.0\nCe-Id: abc-1\nCe-Source: /patient-service\nCe-Type: patient.deleted\nCe-Partitionkey: 7\nContent-Type: application/json"
	kafkaSource := "Ce-Specversion: 1.0\nCe-Id: partition:0/offset:5\nCe-Source: /apis/v1/namespaces/x/kafkasources/s#patient-events\nCe-Type: dev.knative.kafka.event\nCe-Key: 7\nContent-Type: application/json"
	for _, p := range realPayloads {
		f.Add(binary, []byte(p))
		f.Add(kafkaSource, []byte(refEnvelope("e-1", "patient.deleted", p)))
		f.Add("Content-Type: application/cloudevents+json", []byte(`{"specversion":"1.0","id":"abc-1","source":"/s","type":"therapist.blocked","partitionkey":"3","datacontenttype":"application/json","data":`+p+`}`))
	}
	f.Add("Content-Type: application/cloudevents+json", []byte(`{"specversion":`))
	f.Add("Content-Type: application/cloudevents-batch+json", []byte(`[]`))
	f.Add("Content-Type: application/json", []byte(`{"patient_id":7}`))
	f.Fuzz(func(t *testing.T, headers string, body []byte) {
		var seen []events.Inbound
		var got []cloudevents.Event
		srv := NewServer(ServerOptions{Handler: HandlerFunc(func(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
			in, err := events.Decode(e)
			if err != nil {
				return in, events.Rejected, err
			}
			seen, got = append(seen, in), append(got, e)
			return in, events.Processed, nil
		})})
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		for _, h := range headerLines(headers) {
			req.Header.Add(h[0], h[1])
		}
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		switch {
		case w.Code == http.StatusOK:
		case w.Code >= 400 && w.Code < 500:
			if msg := w.Body.String(); strings.TrimSpace(msg) == "" || strings.Count(msg, "\n") != 1 || strings.Contains(msg, internalReason) {
				t.Fatalf("%d with body %q, want a one-line reason", w.Code, msg)
			}
			return
		default:
			t.Fatalf("answered %d: %q", w.Code, w.Body)
		}
		if len(seen) != 1 {
			t.Fatalf("200 but the handler accepted %d events", len(seen))
		}
		checkPayloadParsers(t, seen[0].Payload)
		for _, structured := range []bool{false, true} {
			ctx := binding.WithForceBinary(context.Background())
			if structured {
				ctx = binding.WithForceStructured(context.Background())
			}
			again := httptest.NewRequest(http.MethodPost, "/", nil)
			if err := cehttp.WriteRequest(ctx, binding.ToMessage(&got[0]), again); err != nil {
				t.Fatalf("encoding an accepted event: %v", err)
			}
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, again)
			if w.Code != http.StatusOK || len(seen) != 2 {
				t.Fatalf("accepted %+v, posted again (structured %v) answered %d: %q", seen[0], structured, w.Code, w.Body)
			}
			if d := cmp.Diff(seen[0], seen[1], sameJSON); d != "" {
				t.Fatalf("posted again (structured %v) decodes differently (-first +again):\n%s", structured, d)
			}
			seen, got = seen[:1], got[:1]
		}
	})
}
