package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/contracts/asyncapitest"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// sendBody is send that also returns the answer's body.
func sendBody(t testing.TB, h http.Handler, d delivery) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(d.body))
	for k, v := range d.header {
		req.Header[http.CanonicalHeaderKey(k)] = []string{v}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Body.String()
}

// noDatabaseText fails when an answer carries PostgreSQL's words.
func noDatabaseText(t *testing.T, body string) {
	t.Helper()
	for _, leak := range []string{"SQLSTATE", "ERROR:", "violates", "relation ", "column ", "invalid byte sequence", "btree"} {
		if strings.Contains(body, leak) {
			t.Errorf("the answer carries a database message (%q): %s", leak, body)
		}
	}
}

// Every value the inbox or a handler would store and PostgreSQL cannot (a
// dedupe key too long for processed_events' index, with NUL or not UTF-8; a
// therapist.blocked reason with NUL) and every event with a key twice is
// poison: a 4xx saying why, in every input shape, with nothing changed —
// never the 500 with PostgreSQL's message that Knative retried eight times.
func TestInbox_valuesPostgreSQLCannotStoreArePoisonAndChangeNothing(t *testing.T) {
	pool, _ := storetest.New(t)
	insertSearch(t, pool, 7, "aktiv")
	patient := server(handlers.Patient(pool, nil, nil))
	therapist := server(handlers.Therapist(pool, nil, nil))
	long := strings.Repeat("x", 2800)
	structured := func(id, source, typ, data string) delivery {
		return delivery{map[string]string{"Content-Type": "application/cloudevents+json"},
			fmt.Sprintf(`{"specversion":"1.0","id":%s,"source":%s,"type":%q,"data":%s}`, id, source, typ, data)}
	}
	binary := func(id, source string) delivery {
		return delivery{map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": source,
			"Ce-Type": "patient.deleted", "Content-Type": "application/json"}, `{"patient_id":7}`}
	}
	type poison struct {
		h    http.Handler
		d    delivery
		want int
		says string
	}
	cases := map[string]poison{
		"issue 17 reproducer: NUL in a structured id": {patient, structured(`"a\u0000b"`, `"p"`, "patient.deleted", `{"patient_id":999999}`), 400, "NUL"},
		"NUL in the source":                           {patient, structured(`"a"`, `"p\u0000"`, "patient.deleted", `{"patient_id":7}`), 400, "p \n"},
		"id not UTF-8 (binary header)":                {patient, binary("a\xffb", "/p"), 400, "UTF-8"},
		"id too long":                                 {patient, binary(long, "/p"), 400, "too long"},
		"key twice in the payload":                    {patient, typed("patient.deleted", "d1", `{"patient_id":7,"patient_id":8}`), 400, "twice"},
		"reason with NUL":                             {therapist, typed("therapist.blocked", "r1", `{"therapist_id":3,"reason":"a\u0000b"}`), 422, "NUL"},
	}
	for shape, d := range shapes("patient.deleted", long, "7", `{"patient_id":7}`) {
		if strings.HasPrefix(shape, "envelope") {
			cases["eventId too long, "+shape] = poison{patient, d, 400, "too long"}
		}
	}
	for shape, d := range shapes("patient.deleted", "e-nul", "7", `{"patient_id":7}`) {
		if strings.HasPrefix(shape, "envelope") {
			d.body = strings.Replace(d.body, `"e-nul"`, `"e\u0000"`, 1)
			cases["eventId with NUL, "+shape] = poison{patient, d, 400, "NUL"}
		}
	}
	dupEnvelope := shapes("patient.deleted", "e2", "7", `{"patient_id":7}`)["envelope camelCase as dev.knative.kafka.event"]
	dupEnvelope.body = strings.Replace(dupEnvelope.body, `"eventType"`, `"eventType":"patient.deleted","eventType"`, 1)
	cases["key twice in the envelope"] = poison{patient, dupEnvelope, 400, "twice"}

	before := snapshot(t, pool)
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			code, body := sendBody(t, tc.h, tc.d)
			if code != tc.want || !strings.Contains(body, tc.says) {
				t.Errorf("%d %q, want %d saying %q", code, body, tc.want, tc.says)
			}
			noDatabaseText(t, body)
		})
	}
	if after := snapshot(t, pool); after != before {
		t.Fatalf("the database changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// A NUL in a field matching never reads is not its business.
	if code, body := sendBody(t, patient, typed("patient.deleted", "ok", `{"patient_id":7,"note":"a\u0000b"}`)); code != 200 {
		t.Errorf("an unread field with NUL: %d %s, want 200", code, body)
	}
}

// A database failure that retrying cannot fix (the schema is broken under
// the function) is answered 422, which Knative does not retry but
// dead-letters, with a body that names no SQL.
func TestInbox_aDeterministicDatabaseFailureIsNotRetriedOverHTTP(t *testing.T) {
	pool, _ := storetest.New(t)
	insertSearch(t, pool, 7, "aktiv")
	if _, err := pool.Exec(context.Background(), `ALTER TABLE matching_service.platzsuche RENAME COLUMN notizen TO notizen_renamed`); err != nil {
		t.Fatal(err)
	}
	code, body := sendBody(t, server(handlers.Patient(pool, nil, nil)), typed("patient.deleted", "x1", `{"patient_id":7}`))
	if code != http.StatusUnprocessableEntity {
		t.Errorf("status %d %s, want 422", code, body)
	}
	noDatabaseText(t, body)
}

// The Kafka side of issue 17's first reproducer: records PostgreSQL cannot
// store (an eventId of 3,000 bytes, a ce_id header with NUL or not UTF-8)
// used to be retried for ever and stop their partition. They go to the
// dead-letter topic, and the valid record behind them on the same partition
// is applied.
func TestPatientDeletedFunction_kafkaDirect_unstorableRecordsAreDeadLetteredAndThePartitionMovesOn(t *testing.T) {
	brokers := kafkatest.Start(t)
	pool, url := storetest.New(t)
	search := insertSearch(t, pool, 7, "aktiv")
	cfg := kafkaDirect(brokers, url)
	cfg.Kafka.MaxAttempts = 3
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, handlers.PatientDeleted(handlers.Settings{}), runtime.Options{Config: cfg, Log: slog.New(slog.DiscardHandler)})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	p := kafkatest.Producer(t, brokers)
	ceRecord := func(id string) *sarama.ProducerMessage {
		return &sarama.ProducerMessage{Topic: "patient-events", Key: sarama.StringEncoder("7"),
			Value: sarama.StringEncoder(`{"patient_id":7}`),
			Headers: []sarama.RecordHeader{
				{Key: []byte("ce_specversion"), Value: []byte("1.0")},
				{Key: []byte("ce_id"), Value: []byte(id)},
				{Key: []byte("ce_source"), Value: []byte("/patient-service")},
				{Key: []byte("ce_type"), Value: []byte(events.PatientDeleted)},
				{Key: []byte("content-type"), Value: []byte("application/json")},
			}}
	}
	kafkatest.Produce(t, p, "patient-events", "7", fmt.Sprintf(`{"eventId":%q,"eventType":"patient.deleted","payload":{"patient_id":7}}`, strings.Repeat("e", 3000)))
	for _, id := range []string{"bad\xff\xfeid", "nul\x00id"} {
		if _, _, err := p.SendMessage(ceRecord(id)); err != nil {
			t.Fatal(err)
		}
	}
	kafkatest.Produce(t, p, "patient-events", "7", `{"eventId":"good","eventType":"patient.deleted","payload":{"patient_id":7}}`)

	dead := kafkatest.Read(t, brokers, "matching-events-dlq", 3)
	var reasons []string
	for _, d := range dead {
		if err := asyncapitest.Validate(asyncapitest.FromConsumerMessage(d)); err != nil {
			t.Errorf("dead letter outside the AsyncAPI document: %v", err)
		}
		for _, h := range d.Headers {
			if string(h.Key) == "ce_deadletterreason" {
				reasons = append(reasons, string(h.Value))
			}
		}
	}
	if len(reasons) != 3 {
		t.Fatalf("dead letters carry reasons %q, want 3", reasons)
	}
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		if got, _ := readSearch(t, pool, search); got.Status == "abgebrochen" {
			break
		}
		if time.Since(start) > 10*time.Second {
			t.Fatalf("the valid record behind the poison was not applied (dead letters: %q)", reasons)
		}
	}
	if n := count(t, pool, `SELECT count(*) FROM matching_service.processed_events`); n != 1 {
		t.Errorf("%d processed events, want the valid one", n)
	}
}
