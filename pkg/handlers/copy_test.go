package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// copyEnv is a database, the fake neighbours and the settings of the
// functions that keep matching's copy (MAX_ANFRAGE_SIZE 2).
type copyEnv struct {
	pool     *pgxpool.Pool
	url      string
	fake     *fake.Fake
	settings handlers.Settings
	copy     handlers.Copy
}

func newCopyEnv(t *testing.T) *copyEnv {
	t.Helper()
	pool, url := storetest.New(t)
	f, ncfg := fake.Start(t)
	s := handlers.Settings{Neighbours: ncfg, Matching: config.Matching{MinAnfrageSize: 1, MaxAnfrageSize: 2,
		PLZMatchDigits: 2, DefaultMaxDistanceKM: 25, CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7,
		DefaultPhoneCallTime: "10:00", Timezone: "Europe/Berlin"}}
	return &copyEnv{pool: pool, url: url, fake: f, settings: s, copy: s.NewCopy(runtime.Deps{Pool: pool})}
}

// patient adds a patient with an aktiv search (created through the use
// case, which copies her).
func (e *copyEnv) patient(t *testing.T, overrides map[string]any) int64 {
	t.Helper()
	id := e.fake.AddPatient(fake.SamplePatient(overrides))
	if _, err := e.copy.Placement.CreateSearch(context.Background(), placement.NewSearch{PatientID: id}); err != nil {
		t.Fatal(err)
	}
	return id
}

func (e *copyEnv) patientCopy(t *testing.T, id int64) (store.PatientCopy, bool) {
	t.Helper()
	m, err := store.PatientCopies(context.Background(), e.pool, []int64{id})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m[id]
	return c, ok
}

func strOf(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestPatientEvents_updatesFetchTheNewestStateWhateverTheirOrderAndARedeliveryFetchesNothing(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Patient(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	id := e.patient(t, nil)
	e.fake.SetPatientFields(id, map[string]any{"krankenkasse": "Erste"})
	e.fake.SetPatientFields(id, map[string]any{"krankenkasse": "Zweite"})
	first := typed("patient.updated", "u-1", fmt.Sprintf(`{"patient_id":%d,"patient_data":{"krankenkasse":"Erste"}}`, id))
	second := typed("patient.updated", "u-2", fmt.Sprintf(`{"patient_id":%d,"patient_data":{"krankenkasse":"Zweite"}}`, id))

	// The second event arrives first, then the first, then the first again.
	for _, d := range []delivery{second, first} {
		if code, outcome := send(t, h, d); code != http.StatusOK || outcome != "processed" {
			t.Fatalf("delivery: %d %s", code, outcome)
		}
	}
	e.fake.ResetCounts()
	if code, outcome := send(t, h, first); code != http.StatusOK || outcome != "duplicate" {
		t.Fatalf("redelivery: %d %s", code, outcome)
	}
	if n := e.fake.Count(fake.GetPatient); n != 0 {
		t.Errorf("the redelivery fetched the patient %d times", n)
	}
	// The copy holds what the service holds, not the payload of the event handled last.
	if c, _ := e.patientCopy(t, id); strOf(c.Krankenkasse) != "Zweite" {
		t.Errorf("copy's krankenkasse %s, want Zweite", strOf(c.Krankenkasse))
	}
}

func TestPatientEvents_a404RemovesTheCopyAnOutageIsRetriedAndRemovesNothing(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Patient(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	id := e.patient(t, nil)
	ev := typed("patient.updated", "u-1", fmt.Sprintf(`{"patient_id":%d}`, id))

	e.fake.SetDown(fake.PatientService, true)
	if code, outcome := send(t, h, ev); code < 500 || outcome != "failed" {
		t.Fatalf("during an outage: %d %s, want a 5xx to be delivered again", code, outcome)
	}
	if c, ok := e.patientCopy(t, id); !ok || c.Removed {
		t.Fatalf("copy after the outage %+v, want kept", c)
	}
	e.fake.SetDown(fake.PatientService, false)
	e.fake.RemovePatient(id)
	if code, outcome := send(t, h, ev); code != http.StatusOK || outcome != "processed" {
		t.Fatalf("redelivered after the outage: %d %s", code, outcome)
	}
	if c, _ := e.patientCopy(t, id); !c.Removed {
		t.Errorf("copy of a patient the service answers 404 for: %+v, want removed", c)
	}
}

func TestPatientEvents_aPatientWithoutAnOpenSearchIsNotFetched(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Patient(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	id := e.fake.AddPatient(fake.SamplePatient(nil))
	for _, typ := range []string{"patient.created", "patient.updated"} {
		if code, outcome := send(t, h, typed(typ, typ, fmt.Sprintf(`{"patient_id":%d}`, id))); code != http.StatusOK || outcome != "ignored" {
			t.Errorf("%s: %d %s, want ignored", typ, code, outcome)
		}
	}
	if n := e.fake.Count(fake.GetPatient); n != 0 {
		t.Errorf("fetched %d times", n)
	}
	if code, _ := send(t, h, typed("patient.updated", "bad", `{"patient_id":"x"}`)); code != http.StatusUnprocessableEntity {
		t.Errorf("poison patient.updated: %d, want 422", code)
	}
}

// A patient.updated that breaks a constraint reaches her unsent anfrage
// through the handler: removed, refilled, composition_changed in the outbox.
func TestPatientEvents_anUpdateRechecksHerUnsentAnfrageAfterTheCommit(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Patient(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	tid := e.fake.AddTherapist(fake.SampleTherapist(nil))
	first, second, third := e.patient(t, nil), e.patient(t, nil), e.patient(t, nil)
	a, err := e.copy.Placement.CreateAnfrage(context.Background(), placement.NewAnfrage{TherapistID: tid, PLZPrefix: "10"})
	if err != nil {
		t.Fatal(err)
	}
	e.fake.SetPatientFields(first, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"})
	if code, _ := send(t, h, typed("patient.updated", "u-1", fmt.Sprintf(`{"patient_id":%d}`, first))); code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var got []int64
	if err := e.pool.QueryRow(context.Background(), `SELECT array_agg(patient_id ORDER BY position_in_anfrage)
		FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = $1`, a.Anfrage.ID).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(got, []int64{second, third}) {
		t.Errorf("anfrage holds %v, want [%d %d]", got, second, third)
	}
	want := fmt.Sprintf(`{"added":[%d],"anfrage_id":%d,"anfrage_size":2,"removed":[{"patient_id":%d,"reason":"patient prefers Männlich, therapist is weiblich"}],"therapist_id":%d}`,
		third, a.Anfrage.ID, first, tid)
	rows := outboxRows(t, e.pool)
	if last := rows[len(rows)-1]; last.Type != "therapeutenanfrage.composition_changed" || last.Payload != want {
		t.Errorf("last event %+v, want composition_changed %s", last, want)
	}
}

func TestTherapistEvents_everyTypeStoresTheTherapistAndBlockedKeepsItsEffects(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Therapist(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	tid := e.fake.AddTherapist(fake.SampleTherapist(map[string]any{"nachname": "Vorher"}))
	pid := e.patient(t, nil)
	var search int64
	if err := e.pool.QueryRow(context.Background(), `SELECT id FROM matching_service.platzsuche WHERE patient_id = $1`, pid).Scan(&search); err != nil {
		t.Fatal(err)
	}
	aid := insertAnfrage(t, e.pool, anfrage{therapist: tid, searches: []int64{search}})

	read := func() store.TherapistCopy {
		t.Helper()
		m, err := store.TherapistCopies(context.Background(), e.pool, []int64{tid})
		if err != nil {
			t.Fatal(err)
		}
		return m[tid]
	}
	payload := fmt.Sprintf(`{"therapist_id":%d}`, tid)
	for i, typ := range []string{"therapist.created", "therapist.updated", "therapist.unblocked"} {
		e.fake.SetTherapistFields(tid, map[string]any{"nachname": typ})
		if code, outcome := send(t, h, typed(typ, fmt.Sprint(i), payload)); code != http.StatusOK || outcome != "processed" {
			t.Fatalf("%s: %d %s", typ, code, outcome)
		}
		if got := strOf(read().Nachname); got != typ {
			t.Errorf("after %s the copy says %s", typ, got)
		}
	}
	e.fake.SetTherapistFields(tid, map[string]any{"status": "gesperrt"})
	if code, _ := send(t, h, typed("therapist.blocked", "b", fmt.Sprintf(`{"therapist_id":%d,"reason":"Urlaub"}`, tid))); code != http.StatusOK {
		t.Fatalf("blocked: %d", code)
	}
	if got := strOf(read().Status); got != "gesperrt" {
		t.Errorf("copy's status %s, want gesperrt", got)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE id = $1 AND storniert_datum IS NOT NULL`, aid); n != 1 {
		t.Errorf("blocked did not cancel the unsent anfrage")
	}
}

// The patient-deleted function in Kafka-direct mode keeps the copy: a
// patient.updated record that breaks a constraint ends as
// composition_changed on matching-events.
func TestPatientDeletedFunction_kafkaDirect_anUpdateReachesTheCopyAndItsAnfrage(t *testing.T) {
	e := newCopyEnv(t)
	brokers := kafkatest.Start(t)
	tid := e.fake.AddTherapist(fake.SampleTherapist(nil))
	first, _ := e.patient(t, nil), e.patient(t, nil)
	a, err := e.copy.Placement.CreateAnfrage(context.Background(), placement.NewAnfrage{TherapistID: tid, PLZPrefix: "10"})
	if err != nil {
		t.Fatal(err)
	}
	// What the setup emitted went out before (the publisher keeps the order
	// of a key, and the anfrage's key has its created event).
	if _, err := e.pool.Exec(context.Background(), `UPDATE matching_service.outbox SET published_at = now()`); err != nil {
		t.Fatal(err)
	}
	cfg := config.Common{
		Database: config.Database{URL: e.url, MaxConns: 4},
		Logging:  config.Logging{Level: "ERROR", Format: "json"},
		Kafka: config.Kafka{BootstrapServers: brokers, Topic: "patient-events", LogLevel: "WARNING",
			MatchingEventsTopic: "matching-events", DLQTopic: "matching-events-dlq"},
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, handlers.PatientDeleted(e.settings), runtime.Options{Config: cfg}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	e.fake.SetPatientFields(first, map[string]any{"bevorzugtes_therapieverfahren": "Analytische_Psychotherapie"})
	value := fmt.Sprintf(`{"eventId":"u-%d","eventType":"patient.updated","version":"1.0","timestamp":"2025-08-11T09:44:00.123456",`+
		`"producer":"patient-service","payload":{"patient_id":%d,"patient_data":{"id":%d}}}`, first, first, first)
	kafkatest.Produce(t, kafkatest.Producer(t, brokers), "patient-events", fmt.Sprint(first), value)

	rec := kafkatest.Read(t, brokers, "matching-events", 1)[0]
	headers := map[string]string{}
	for _, h := range rec.Headers {
		headers[string(h.Key)] = string(h.Value)
	}
	if headers["ce_type"] != "therapeutenanfrage.composition_changed" || string(rec.Key) != fmt.Sprint(a.Anfrage.ID) {
		t.Fatalf("record %s key %s, want composition_changed of anfrage %d", headers["ce_type"], rec.Key, a.Anfrage.ID)
	}
	if c, _ := e.patientCopy(t, first); strOf(c.BevorzugtesTherapieverfahren) != "Analytische_Psychotherapie" {
		t.Errorf("copy not updated: %s", strOf(c.BevorzugtesTherapieverfahren))
	}
}
