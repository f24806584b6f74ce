package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// delivery is one HTTP request as Knative would send it.
type delivery struct {
	header map[string]string
	body   string
}

// The three input shapes of product §4, plus structured mode, for one event.
func shapes(eventType, eventID, key, payload string) map[string]delivery {
	ce := func(typ, data string) map[string]string {
		return map[string]string{
			"Ce-Specversion": "1.0", "Ce-Id": eventID, "Ce-Source": "/test", "Ce-Type": typ,
			"Ce-Partitionkey": key, "Content-Type": "application/json",
		}
	}
	env := func(idKey, typeKey string) string {
		return fmt.Sprintf(`{%q:%q,%q:%q,"version":"1.0","timestamp":"2025-08-11T09:44:00.123456","producer":"test-service","payload":%s}`,
			idKey, eventID, typeKey, eventType, payload)
	}
	kafka := ce("dev.knative.kafka.event", "")
	kafka["Ce-Id"] = "partition:0/offset:17"
	kafka["Ce-Source"] = "/apis/v1/namespaces/matching/kafkasources/patient-events#patient-events"
	return map[string]delivery{
		"typed CloudEvent, binary": {ce(eventType, payload), payload},
		"typed CloudEvent, structured": {map[string]string{"Content-Type": "application/cloudevents+json"},
			fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"/test","type":%q,"partitionkey":%q,"datacontenttype":"application/json","data":%s}`,
				eventID, eventType, key, payload)},
		"envelope camelCase as dev.knative.kafka.event": {kafka, env("eventId", "eventType")},
		"envelope snake_case":                           {kafka, env("event_id", "event_type")},
	}
}

// typed is the typed binary CloudEvent delivery of an event.
func typed(eventType, eventID, payload string) delivery {
	return shapes(eventType, eventID, "1", payload)["typed CloudEvent, binary"]
}

func send(t testing.TB, h http.Handler, d delivery) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(d.body))
	for k, v := range d.header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w.Code, w.Header().Get(runtime.OutcomeHeader)
}

func server(h runtime.Handler) http.Handler {
	return runtime.NewServer(runtime.ServerOptions{Handler: h})
}

// insertSearch adds a search of the patient in status.
func insertSearch(t testing.TB, pool *pgxpool.Pool, patientID int64, status string) int64 {
	t.Helper()
	var id int64
	if err := pool.QueryRow(context.Background(), `
		INSERT INTO matching_service.platzsuche (patient_id, status) VALUES ($1, $2::suchstatus) RETURNING id`,
		patientID, status).Scan(&id); err != nil {
		t.Fatalf("insert search: %v", err)
	}
	return id
}

// anfrage describes a therapeutenanfrage fixture.
type anfrage struct {
	therapist                 int64
	sent, answered, cancelled bool
	emailID                   *int64
	searches                  []int64
}

func insertAnfrage(t testing.TB, pool *pgxpool.Pool, a anfrage) int64 {
	t.Helper()
	ctx := context.Background()
	past := time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC)
	when := func(b bool) *time.Time {
		if b {
			return &past
		}
		return nil
	}
	var id int64
	if err := pool.QueryRow(ctx, `
		INSERT INTO matching_service.therapeutenanfrage
		    (therapist_id, anfragegroesse, gesendet_datum, antwort_datum, storniert_datum, email_id)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		a.therapist, max(len(a.searches), 1), when(a.sent), when(a.answered), when(a.cancelled), a.emailID).Scan(&id); err != nil {
		t.Fatalf("insert anfrage: %v", err)
	}
	for i, s := range a.searches {
		if _, err := pool.Exec(ctx, `
			INSERT INTO matching_service.therapeut_anfrage_patient
			    (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
			SELECT $1, id, patient_id, $3 FROM matching_service.platzsuche WHERE id = $2`, id, s, i+1); err != nil {
			t.Fatalf("insert anfrage patient: %v", err)
		}
	}
	return id
}

// outboxRow is an emitted event as the outbox holds it.
type outboxRow struct {
	Type    string
	Key     string
	Payload string
}

func outboxRows(t testing.TB, pool *pgxpool.Pool) []outboxRow {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		`SELECT event_type, partition_key, payload::text FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var payload string
		if err := rows.Scan(&r.Type, &r.Key, &payload); err != nil {
			t.Fatal(err)
		}
		r.Payload = canonicalJSON(t, payload)
		out = append(out, r)
	}
	return out
}

// canonicalJSON re-encodes a JSON document with sorted keys.
func canonicalJSON(t testing.TB, s string) string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// snapshot is the whole content of matching's tables as text, to show that
// a rejected event changed nothing.
func snapshot(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `
		SELECT concat_ws(E'\n',
		    (SELECT string_agg(p::text, E'\n' ORDER BY id) FROM matching_service.platzsuche p),
		    (SELECT string_agg(a::text, E'\n' ORDER BY id) FROM matching_service.therapeutenanfrage a),
		    (SELECT string_agg(e::text, E'\n' ORDER BY dedupe_key) FROM matching_service.processed_events e),
		    (SELECT string_agg(o.id::text, E'\n' ORDER BY seq) FROM matching_service.outbox o))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func count(t testing.TB, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func itoa(n int64) string { return fmt.Sprint(n) }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// communication is the communication-events handler with the business
// parameters of the defaults (four weeks of cooling, Europe/Berlin).
func communication(pool *pgxpool.Pool) *inbox.Processor {
	return handlers.Communication(pool, nil, nil, placement.New(placement.Config{Pool: pool, Matching: testMatching}))
}

var testMatching = config.Matching{MinAnfrageSize: 1, MaxAnfrageSize: 6, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
	CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00", Timezone: "Europe/Berlin"}
