package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/storable"
)

// Inbound is a consumed event after decoding, whatever shape it came in.
type Inbound struct {
	// Type is the canonical event type (aliases resolved).
	Type string
	// ID is the envelope's eventId, else the CloudEvent id.
	ID string
	// Source is the CloudEvent source (or the envelope's producer).
	Source string
	// DedupeKey identifies the event across redeliveries: the envelope's
	// eventId when present, else the CloudEvent (source, id).
	DedupeKey string
	// Key is the partition key when the transport knows it.
	Key string
	// Payload is the event's payload object.
	Payload json.RawMessage
	// At is when matching applies the event (naive UTC, microseconds): the
	// clock of its handlers, for every timestamp and note they write. The
	// inbox sets it when the event arrives and records it with the event,
	// so that a replay applies the event at the same time again.
	At time.Time
}

// LogValue is what a log line says of a consumed event: its type, id and
// partition key, under the names the outbox publisher uses for the events it
// publishes (type, id, key), so that one query finds an event's lines on
// both sides. Log it under the empty key, slog.Any("", in): slog then
// inlines the three attributes at the top level of the line.
func (in Inbound) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", in.Type), slog.String("id", in.ID), slog.String("key", in.Key))
}

// envelope is the reference's Kafka message value; both key spellings occur.
type envelope struct {
	EventID        string          `json:"eventId"`
	EventIDSnake   string          `json:"event_id"`
	EventType      string          `json:"eventType"`
	EventTypeSnake string          `json:"event_type"`
	Producer       string          `json:"producer"`
	Payload        json.RawMessage `json:"payload"`
}

// MaxDedupeKeyBytes bounds the dedupe key the inbox stores: the envelope's
// eventId, or the CloudEvent's source and id. Real ids are UUIDs or short
// URIs; a key of some 2.7 KB would not fit processed_events' index at all
// (PostgreSQL refuses the row), so a longer one is rejected as poison.
const MaxDedupeKeyBytes = 1024

// Decode turns a received CloudEvent into an Inbound. It accepts a typed
// CloudEvent whose data is the payload, and any CloudEvent (KafkaSource wraps
// plain records as dev.knative.kafka.event) whose data is the reference
// envelope with camelCase or snake_case keys. An event whose data cannot be
// read as one of these shapes is a fault.Malformed error; one whose envelope
// was read but whose payload is not a JSON object is fault.Invalid.
//
// Decode also rejects, as fault.Malformed, what the inbox could not store or
// matching could not read unambiguously, so that such an event is
// dead-lettered before any transaction instead of failing inside one (and
// being retried for ever): a dedupe key longer than MaxDedupeKeyBytes, with
// the NUL character or bytes that are not UTF-8 (a Kafka header may carry
// any bytes), and data with a key twice in an object. A duplicate key is
// refused although no field it names may be read: the producers of the
// consumed events (Python's json, Jackson) cannot write one, so such data is
// evidence of a broken or forged record, and which of the two values a
// reader takes (encoding/json: the last) would decide the effect. Values
// are checked where they are stored (ParseTherapistBlocked's reason): a NUL
// in a field matching never reads does not make an event poison.
func Decode(e cloudevents.Event) (Inbound, error) {
	in, err := decode(e)
	if err != nil {
		return in, err
	}
	if err := checkDedupeKey(in.DedupeKey); err != nil {
		return in, err
	}
	return in, nil
}

// checkDedupeKey refuses a key the inbox cannot store.
func checkDedupeKey(key string) error {
	if len(key) > MaxDedupeKeyBytes {
		return fault.Malformedf("event id too long: with its source it takes %d bytes, at most %d are accepted", len(key), MaxDedupeKeyBytes)
	}
	if err := storable.Text(key); err != nil {
		return fault.Malformedf("event id or source %v", err)
	}
	return nil
}

func decode(e cloudevents.Event) (Inbound, error) {
	data := bytes.TrimSpace(e.Data())
	in := Inbound{
		Type:      Canonical(e.Type()),
		ID:        e.ID(),
		Source:    e.Source(),
		DedupeKey: "ce:" + e.Source() + "#" + e.ID(),
		Key:       partitionKey(e),
	}
	if len(data) == 0 {
		return in, fault.Malformedf("event %s has no data", e.ID())
	}
	if data[0] != '{' {
		return in, fault.Malformedf("event data is not a JSON object")
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		return in, fault.Malformedf("event data is not valid JSON: %v", err)
	}
	if err := storable.UniqueKeys(data); err != nil {
		return in, fault.Malformedf("event data: %v", err)
	}
	_, hasPayload := fields["payload"]
	_, camel := fields["eventType"]
	_, snake := fields["event_type"]
	if hasPayload && (camel || snake) {
		var env envelope
		if err := json.Unmarshal(data, &env); err != nil {
			return in, fault.Malformedf("malformed event envelope: %v", err)
		}
		typ := firstNonEmpty(env.EventType, env.EventTypeSnake)
		if typ == "" {
			return in, fault.Malformedf("event envelope has no eventType")
		}
		in.Type = Canonical(typ)
		if id := firstNonEmpty(env.EventID, env.EventIDSnake); id != "" {
			in.ID = id
			in.DedupeKey = "event:" + id
		}
		if env.Producer != "" && in.Source == "" {
			in.Source = env.Producer
		}
		in.Payload = env.Payload
		if p := bytes.TrimSpace(in.Payload); len(p) == 0 || p[0] != '{' {
			return in, fault.Invalidf("event envelope payload is not a JSON object")
		}
		return in, nil
	}
	if e.Type() == "" || e.Type() == KafkaEventType {
		return in, fault.Malformedf("event of type %q carries no reference envelope (eventType and payload)", e.Type())
	}
	in.Payload = json.RawMessage(data)
	return in, nil
}

// KafkaEventType is the type a Knative KafkaSource gives records that are not
// CloudEvents.
const KafkaEventType = "dev.knative.kafka.event"

func partitionKey(e cloudevents.Event) string {
	for _, name := range []string{"partitionkey", "key"} {
		if v, ok := e.Extensions()[name]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// PatientDeletedData is the payload of patient.deleted. The patient service
// sends {"patient_id": n, "id": n}; patient_id is required.
type PatientDeletedData struct {
	PatientID int64
}

// ParsePatientDeleted reads a patient.deleted payload.
func ParsePatientDeleted(p json.RawMessage) (PatientDeletedData, error) {
	id, err := requiredID(p, "patient_id")
	return PatientDeletedData{PatientID: id}, err
}

// ParsePatientID reads the patient_id of any patient-events payload
// (patient.created, patient.updated: {"patient_id", "patient_data"}).
func ParsePatientID(p json.RawMessage) (int64, error) { return requiredID(p, "patient_id") }

// ParseTherapistID reads the therapist_id of any therapist-events payload
// ({"therapist_id", "therapist_data", …}).
func ParseTherapistID(p json.RawMessage) (int64, error) { return requiredID(p, "therapist_id") }

// TherapistBlockedData is the payload of therapist.blocked.
type TherapistBlockedData struct {
	TherapistID int64
	// Reason is the therapist service's sperrgrund; null or absent becomes
	// "Therapist blocked" (DefaultBlockReason).
	Reason string
}

// DefaultBlockReason stands in for a null or absent therapist.blocked reason.
const DefaultBlockReason = "Therapist blocked"

// ParseTherapistBlocked reads a therapist.blocked payload.
func ParseTherapistBlocked(p json.RawMessage) (TherapistBlockedData, error) {
	id, err := requiredID(p, "therapist_id")
	if err != nil {
		return TherapistBlockedData{}, err
	}
	d := TherapistBlockedData{TherapistID: id, Reason: DefaultBlockReason}
	var f struct {
		Reason json.RawMessage `json:"reason"`
	}
	_ = json.Unmarshal(p, &f)
	if r := bytes.TrimSpace(f.Reason); len(r) > 0 && string(r) != "null" {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return TherapistBlockedData{}, fault.Invalidf("field reason: must be a string or null")
		}
		if err := storable.Text(s); err != nil {
			return TherapistBlockedData{}, fault.Invalidf("field reason: %v", err)
		}
		if s = strings.TrimSpace(s); s != "" {
			d.Reason = s
		}
	}
	return d, nil
}

// EmailEventData is the part of email.sent and email.response_received that
// matching reads.
type EmailEventData struct {
	EmailID     int64
	TherapistID int64 // 0 when absent
}

// ParseEmailEvent reads an email.sent or email.response_received payload:
// email_id is required; therapist_id is read from the payload or its
// email_data when present.
func ParseEmailEvent(p json.RawMessage) (EmailEventData, error) {
	id, err := requiredID(p, "email_id")
	if err != nil {
		return EmailEventData{}, err
	}
	d := EmailEventData{EmailID: id}
	var f struct {
		TherapistID *int64 `json:"therapist_id"`
		EmailData   struct {
			TherapistID *int64 `json:"therapist_id"`
		} `json:"email_data"`
	}
	if json.Unmarshal(p, &f) == nil {
		if f.TherapistID != nil {
			d.TherapistID = *f.TherapistID
		} else if f.EmailData.TherapistID != nil {
			d.TherapistID = *f.EmailData.TherapistID
		}
	}
	return d, nil
}

// EmailResponseData is the payload of email.response_received (enhancements
// B1): the email the therapist answered and the reply.
type EmailResponseData struct {
	EmailEventData
	Subject    string
	Body       string
	From       string
	ReceivedAt string
}

// ParseEmailResponse reads an email.response_received payload
// {"email_id": n, "response_data": {"subject", "body", "from",
// "received_at"}}: email_id and response_data.body are required, the other
// fields of response_data are optional strings (null is absent); anything
// else is fault.Invalid, also a string PostgreSQL cannot store (NUL).
func ParseEmailResponse(p json.RawMessage) (EmailResponseData, error) {
	e, err := ParseEmailEvent(p)
	if err != nil {
		return EmailResponseData{}, err
	}
	var f struct {
		ResponseData json.RawMessage `json:"response_data"`
	}
	_ = json.Unmarshal(p, &f) // an object: ParseEmailEvent read it
	raw := bytes.TrimSpace(f.ResponseData)
	if len(raw) == 0 || string(raw) == "null" {
		return EmailResponseData{}, fault.Invalidf("field response_data: required")
	}
	var fields map[string]json.RawMessage
	if raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		return EmailResponseData{}, fault.Invalidf("field response_data: must be an object")
	}
	d := EmailResponseData{EmailEventData: e}
	for _, s := range []struct {
		name     string
		to       *string
		required bool
	}{
		{"body", &d.Body, true}, {"subject", &d.Subject, false},
		{"from", &d.From, false}, {"received_at", &d.ReceivedAt, false},
	} {
		v := bytes.TrimSpace(fields[s.name])
		if len(v) == 0 || string(v) == "null" {
			if s.required {
				return EmailResponseData{}, fault.Invalidf("field response_data.%s: required", s.name)
			}
			continue
		}
		if v[0] != '"' || json.Unmarshal(v, s.to) != nil {
			return EmailResponseData{}, fault.Invalidf("field response_data.%s: must be a string, got %s", s.name, truncate(v))
		}
		if err := storable.Text(*s.to); err != nil {
			return EmailResponseData{}, fault.Invalidf("field response_data.%s: %v", s.name, err)
		}
	}
	return d, nil
}

// PhoneCallCompletedData is the part of phone_call.completed matching reads.
type PhoneCallCompletedData struct {
	CallID int64
}

// ParsePhoneCallCompleted reads a phone_call.completed payload; the call id is
// call_id (or phone_call_id, or id).
func ParsePhoneCallCompleted(p json.RawMessage) (PhoneCallCompletedData, error) {
	for _, name := range []string{"call_id", "phone_call_id", "id"} {
		var f map[string]json.RawMessage
		if err := json.Unmarshal(p, &f); err != nil {
			return PhoneCallCompletedData{}, fault.Invalidf("payload is not a JSON object")
		}
		if _, ok := f[name]; ok {
			id, err := requiredID(p, name)
			return PhoneCallCompletedData{CallID: id}, err
		}
	}
	return PhoneCallCompletedData{}, fault.Invalidf("field call_id: required")
}

// requiredID reads field name of the JSON object p as a positive integer that
// fits the reference's integer columns.
func requiredID(p json.RawMessage, name string) (int64, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(p, &f); err != nil {
		return 0, fault.Invalidf("payload is not a JSON object")
	}
	raw, ok := f[name]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return 0, fault.Invalidf("field %s: required", name)
	}
	raw = bytes.TrimSpace(raw)
	// json.Number would also take a quoted "3": only a bare number is an id.
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, fault.Invalidf("field %s: must be an integer, got %s", name, truncate(raw))
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fault.Invalidf("field %s: must be an integer, got %s", name, truncate(raw))
	}
	id, err := n.Int64()
	if err != nil {
		return 0, fault.Invalidf("field %s: must be an integer, got %s", name, truncate(raw))
	}
	if id <= 0 || id > math.MaxInt32 {
		return 0, fault.Invalidf("field %s: must be a positive integer, got %d", name, id)
	}
	return id, nil
}

func truncate(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// NewCloudEvent builds the CloudEvent matching emits for an outbox row: id is
// the row's UUID, source matching-service, subject and partitionkey the key,
// data the JSON payload.
func NewCloudEvent(id, eventType, key string, created time.Time, payload []byte) (cloudevents.Event, error) {
	e := cloudevents.NewEvent()
	e.SetID(id)
	e.SetSource(Source)
	e.SetType(eventType)
	e.SetTime(created.UTC())
	e.SetSubject(key)
	e.SetExtension("partitionkey", key)
	if err := e.SetData(cloudevents.ApplicationJSON, json.RawMessage(payload)); err != nil {
		return e, err
	}
	return e, e.Validate()
}
