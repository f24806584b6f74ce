package devstack

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/metrics/metricstest"
)

// The README's story, driven through the real HTTP API and the real Kafka
// protocol against the stack make run starts: create a search, build and
// send an anfrage, the therapist's email reply recorded automatically and
// another therapist's filed for review, delete two patients (one event in
// each form), send a poison event, run the follow-up job once, and let a
// patient's changed preference reach her unsent anfrage.
// Every step is checked in the database and on matching-events.
func TestStory_searchAnfrageResponseDeletionAndFollowUp(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state.json")
	s := startStack(t, Options{Seed: true, StateFile: state})
	events := collect(t, s.Brokers, "matching-events")
	dlq := collect(t, s.Brokers, "matching-events-dlq")

	st, err := ReadState(state)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if st.API != s.APIURL || st.Neighbours != s.NeighboursURL || len(st.Functions) != len(Functions) || st.DatabaseURL != s.DatabaseURL {
		t.Errorf("state file %+v does not describe the stack", st)
	}

	// 1. A search for Laura Fischer (patient 10), who has none yet.
	r := s.call("POST", "/api/platzsuchen", map[string]any{"patient_id": 10}, 201)
	if r["id"] != float64(10) || r["status"] != "aktiv" {
		t.Fatalf("created search %v, want id 10 aktiv", r)
	}

	// 2. An anfrage for Dr. Katharina Wolff (therapist 3), who takes women
	// only: Anna (2), Sophie (7) and Laura (10), longest waiting first;
	// Lea (9) is paused.
	r = s.call("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": 3, "plz_prefix": "52"}, 201)
	if d := cmp.Diff([]any{2.0, 7.0, 10.0}, r["patient_ids"]); d != "" || r["anfrage_id"] != 2.0 {
		t.Fatalf("anfrage %v: patients (-want +got)\n%s", r["anfrage_id"], d)
	}
	r = s.call("POST", "/api/therapeutenanfragen/2/senden", nil, 200)
	if r["communication_type"] != "email" || r["email_id"] != 2.0 {
		t.Fatalf("sent %v, want email 2 (email 1 is the demo anfrage's)", r)
	}
	// Email 1 is the demo anfrage's, seeded over HTTP as well.
	if mails := s.Neighbours.Emails(); len(mails) != 2 || mails[1].ID != 2 || mails[1].Body["empfaenger_email"] != "k.wolff@praxis-wolff.example.org" {
		t.Fatalf("the communication service received %d emails, the last to %v", len(mails), mails[len(mails)-1].Body["empfaenger_email"])
	}

	// 3. She answers by email: she takes Anna and Laura, has no capacity
	// for Sophie. Every patient is decided, so the reply is recorded as
	// the clerk would record it with PUT …/antwort.
	if _, err := Reply(context.Background(), st, 2, readmeReply(t, "2"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "anfrage 2's reply recorded", func() bool {
		return scalar[int](s, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE id = 2 AND antwort_datum IS NOT NULL`) == 1
	})
	r = s.call("GET", "/api/therapeutenanfragen/2/antwort-vorschlag", nil, 200)
	if r["status"] != "uebernommen" || r["automatisch"] != true || len(r["unklar"].([]any)) != 0 {
		t.Errorf("anfrage 2's reply suggestion %v", r)
	}
	if notes := scalar[string](s, `SELECT notizen FROM matching_service.therapeutenanfrage WHERE id = 2`); !strings.Contains(notes, "(System)] Antwort automatisch aus E-Mail übernommen") {
		t.Errorf("anfrage 2 notes %q", notes)
	}
	// Dr. Schröder answers the demo anfrage 1 from his holiday and leaves
	// Person 2 open: nothing is recorded, a clerk is asked to look.
	if _, err := Reply(context.Background(), st, 1, readmeReply(t, "1"), ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "anfrage 1's reply filed for review", func() bool {
		return scalar[int](s, `SELECT count(*) FROM matching_service.antwort_vorschlag WHERE therapeutenanfrage_id = 1`) == 1
	})
	r = s.call("GET", "/api/antwort-vorschlaege?status=offen", nil, 200)
	if d := r["data"].([]any); len(d) != 1 || d[0].(map[string]any)["anfrage_id"] != 1.0 || d[0].(map[string]any)["grund"] != "unklar" {
		t.Errorf("review list %v", r)
	}

	// 4. The patient service deletes Felix Wagner (4) and Lea Schmitz (9,
	// whose search is paused), and publishes one event it should not.
	s.publish("patient.deleted", `{"patient_id":4}`, FormEnvelope)
	s.publish("patient.deleted", `{"patient_id":9}`, FormCloudEvent)
	poison := s.publish("patient.deleted", `{"patient_id":"Felix"}`, FormEnvelope)

	// 5. The daily follow-up job, once (the demo anfrage 1 is 8 days old).
	if _, err := exec.LookPath("go"); err != nil {
		t.Log("no go command: the follow-up step is left out")
	} else {
		cmd := FollowUpCommand(context.Background(), st, nil)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("follow-up job: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "scheduled=1 adopted=0 failed=0 skipped=0") {
			t.Errorf("follow-up summary missing:\n%s", out.String())
		}
	}
	followUp := 1
	if _, err := exec.LookPath("go"); err != nil {
		followUp = 0
	}

	// 6. A patient changes her mind. Jan Weber (11) starts an urgent search;
	// an anfrage for Markus Schulz (therapist 10, Stolberg) takes him first,
	// then the longest waiting: Jonas, Lukas, Paul, David and Sophie (7);
	// Tim (8, 5 km from Stolberg) waits. Sophie now wants a female
	// therapist: the patient service changes her record and publishes
	// patient.updated; she leaves the unsent anfrage and Tim takes her place.
	s.call("POST", "/api/platzsuchen", map[string]any{"patient_id": 11}, 201)
	s.call("PUT", "/api/platzsuchen/11", map[string]any{"prioritaet": 1}, 200)
	r = s.call("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": 10, "plz_prefix": "52"}, 201)
	if d := cmp.Diff([]any{11.0, 1.0, 3.0, 5.0, 6.0, 7.0}, r["patient_ids"]); d != "" || r["anfrage_id"] != 3.0 {
		t.Fatalf("anfrage %v: patients (-want +got)\n%s", r["anfrage_id"], d)
	}
	s.neighbour("PUT", "/api/patients/7", map[string]any{"bevorzugtes_therapeutengeschlecht": "Weiblich"}, 200)
	eventually(t, 10*time.Second, "Sophie leaves anfrage 3", func() bool {
		return scalar[int](s, `SELECT count(*) FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = 3 AND patient_id = 8`) == 1
	})

	got := byKey(events.waitEvents(t, 13+followUp, 20*time.Second))
	today := time.Now().In(s.opts.Matching.Location())
	statusChanged := func(search, patient int, from any, to string) emitted {
		return emitted{Type: "search.status_changed", Payload: map[string]any{
			"search_id": float64(search), "patient_id": float64(patient), "old_status": from, "new_status": to}}
	}
	want := map[string][]emitted{
		"10": {statusChanged(10, 10, nil, "aktiv"), statusChanged(10, 10, "aktiv", "erfolgreich")},
		// Anfrage 2 and search 2 share the key "2".
		"2": {
			{Type: "therapeutenanfrage.created", Payload: map[string]any{"anfrage_id": 2.0, "therapist_id": 3.0, "patient_ids": []any{2.0, 7.0, 10.0}, "anfrage_size": 3.0}},
			{Type: "therapeutenanfrage.sent", Payload: map[string]any{"anfrage_id": 2.0, "communication_type": "email", "communication_id": 2.0}},
			{Type: "therapeutenanfrage.response_received", Payload: map[string]any{"anfrage_id": 2.0, "response_type": "teilweise_Annahme", "accepted_count": 2.0, "rejected_count": 1.0, "no_response_count": 0.0}},
			statusChanged(2, 2, "aktiv", "erfolgreich"),
		},
		// Therapist 3 and anfrage 3 share the key "3".
		"3": {
			{Type: "cooling.period_started", Payload: map[string]any{"therapist_id": 3.0, "next_contactable_date": matching.CoolingUntil(today, 4), "reason": "response_received"}},
			{Type: "therapeutenanfrage.created", Payload: map[string]any{"anfrage_id": 3.0, "therapist_id": 10.0, "patient_ids": []any{11.0, 1.0, 3.0, 5.0, 6.0, 7.0}, "anfrage_size": 6.0}},
			{Type: "therapeutenanfrage.composition_changed", Payload: map[string]any{"anfrage_id": 3.0, "therapist_id": 10.0,
				"removed": []any{map[string]any{"patient_id": 7.0, "reason": "patient prefers Weiblich, therapist is männlich"}},
				"added":   []any{8.0}, "anfrage_size": 6.0}},
		},
		"11": {statusChanged(11, 11, nil, "aktiv")},
		"4":  {statusChanged(4, 4, "aktiv", "abgebrochen")},
		"9":  {statusChanged(9, 9, "pausiert", "abgebrochen")},
	}
	want["1"] = []emitted{{Type: "therapeutenanfrage.response_review_needed", Payload: map[string]any{
		"anfrage_id": 1.0, "therapist_id": 12.0, "email_id": 1.0, "undecided_patient_ids": []any{2.0}}}}
	if followUp == 1 {
		call := s.Neighbours.PhoneCalls()
		if len(call) != 1 {
			t.Fatalf("phone calls created: %+v", call)
		}
		want["1"] = append(want["1"], emitted{Type: "therapeutenanfrage.follow_up_scheduled", Payload: map[string]any{
			"anfrage_id": 1.0, "therapist_id": 12.0, "phone_call_id": float64(call[0].ID),
			"scheduled_date": call[0].Body["geplantes_datum"], "scheduled_time": call[0].Body["geplante_zeit"]}})
	}
	// Order is promised per entity (the outbox's ordering key), not across
	// the entities that share a Kafka key: anfrage 2's events and search 2's
	// may interleave either way. So each key's events are compared per
	// entity kind, the prefix of their type.
	perEntity := func(m map[string][]emitted) map[string][]emitted {
		out := map[string][]emitted{}
		for k, rs := range m {
			for _, r := range rs {
				kind, _, _ := strings.Cut(r.Type, ".")
				out[k+" "+kind] = append(out[k+" "+kind], emitted{Type: r.Type, Payload: r.Payload})
			}
		}
		return out
	}
	if d := cmp.Diff(perEntity(want), perEntity(got)); d != "" {
		t.Errorf("matching-events by key and entity, in order (-want +got):\n%s", d)
	}
	// Every event is a CloudEvent from matching-service whose id is its
	// outbox row, published once the outbox row says so. The publisher marks
	// a row after the broker took it, so an event can be read before its mark
	// commits (a loaded machine showed it): wait for the marks first.
	eventually(t, 10*time.Second, "every outbox row marked published", func() bool {
		return scalar[int](s, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`) == 0
	})
	for _, e := range events.distinct() {
		published := scalar[bool](s, `SELECT published_at IS NOT NULL FROM matching_service.outbox WHERE id = $1`, e.ID)
		if e.Source != "matching-service" || !published {
			t.Errorf("event %s %s: source %q, outbox row published %v", e.Type, e.ID, e.Source, published)
		}
	}

	// The poison event went to the dead-letter topic with its reason and
	// changed nothing.
	dead := dlq.waitEvents(t, 1, 10*time.Second)
	dlq.mu.Lock()
	h := dlq.headers[0]
	dlq.mu.Unlock()
	if dead[0].Key != poison.Key || !strings.Contains(h["ce_deadletterreason"], "patient_id") {
		t.Errorf("dead letter %+v with headers %v", dead[0], h)
	}

	// The database says the same.
	type search struct {
		Status string
		Notes  string
	}
	searches := map[int]search{}
	rows, _ := s.pool.Query(context.Background(), `SELECT id, status::text, coalesce(notizen, '') FROM matching_service.platzsuche ORDER BY id`)
	for rows.Next() {
		var id int
		var sr search
		if err := rows.Scan(&id, &sr.Status, &sr.Notes); err != nil {
			t.Fatal(err)
		}
		searches[id] = sr
	}
	for id, status := range map[int]string{1: "aktiv", 2: "erfolgreich", 3: "aktiv", 4: "abgebrochen", 7: "aktiv", 9: "abgebrochen", 10: "erfolgreich"} {
		if searches[id].Status != status {
			t.Errorf("search %d is %s, want %s", id, searches[id].Status, status)
		}
	}
	for _, id := range []int{4, 9} {
		if strings.Count(searches[id].Notes, "Cancelled: Patient deleted from system") != 1 {
			t.Errorf("search %d notes %q", id, searches[id].Notes)
		}
	}
	if n := scalar[int](s, `SELECT count(*) FROM matching_service.processed_events WHERE consumer = 'matching-service-patient'`); n != 3 {
		t.Errorf("%d patient events recorded as processed, want 3 (the poison one is not)", n)
	}
	if notes := scalar[string](s, `SELECT notizen FROM matching_service.therapeutenanfrage WHERE id = 3`); !strings.HasSuffix(notes, "(System)] Removed patient 7: patient prefers Weiblich, therapist is männlich") {
		t.Errorf("anfrage 3 notes %q", notes)
	}
	if typ := scalar[string](s, `SELECT antworttyp::text FROM matching_service.therapeutenanfrage WHERE id = 2`); typ != "teilweise_Annahme" {
		t.Errorf("anfrage 2 antworttyp %s", typ)
	}
	if followUp == 1 {
		if id := scalar[*int64](s, `SELECT phone_call_id FROM matching_service.therapeutenanfrage WHERE id = 1`); id == nil {
			t.Error("anfrage 1 has no follow-up call")
		}
	}
	if n := scalar[int](s, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`); n != 0 {
		t.Errorf("%d events left unpublished", n)
	}

	// What Prometheus would scrape. The API reports the business counters
	// (the demo anfrage 1 included) from the database.
	api := metricstest.Get(t, s.APIURL+"/metrics")
	for name, want := range map[string]map[string]float64{
		"matching_anfragen_created_total": {"": 3},
		"matching_anfragen_sent_total":    {"channel=email": 2, "channel=phone_call": 0},
		"matching_anfragen_responses_total": {"response_type=teilweise_Annahme": 1, "response_type=vollstaendige_Annahme": 0,
			"response_type=vollstaendige_Ablehnung": 0, "response_type=keine_Antwort": 0},
		"matching_follow_up_calls_scheduled_total": {"": float64(followUp)},
	} {
		if d := cmp.Diff(want, api.Series(name)); d != "" {
			t.Errorf("API %s (-want +got):\n%s", name, d)
		}
	}
	// The patient consumer counts its three records by outcome and has
	// no lag left on the partitions it processed.
	patientURL := s.functionURL("patient-deleted") + "/metrics"
	wantConsumed := map[string]float64{
		"outcome=processed,source=patient-events,type=patient.updated": 1,
		"outcome=processed,source=patient-events,type=patient.deleted": 2,
		"outcome=rejected,source=patient-events,type=patient.deleted":  1,
	}
	eventually(t, 5*time.Second, "the patient consumer's counters", func() bool {
		return cmp.Equal(wantConsumed, metricstest.Get(t, patientURL).NonZero("matching_events_consumed_total"))
	})
	lag := metricstest.Get(t, patientURL).Series("matching_consumer_lag_messages")
	if len(lag) == 0 {
		t.Error("no consumer lag reported")
	}
	for k, v := range lag {
		if v != 0 || !strings.HasPrefix(k, "partition=") || !strings.HasSuffix(k, ",topic=patient-events") {
			t.Errorf("lag %s = %v, want 0 on a partition of patient-events", k, v)
		}
	}

	s.Stop()
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file left after Stop: %v", err)
	}
}

// A restart of make run on the same database (KEEP=1, or DATABASE_URL)
// seeds nothing twice: the fake neighbours get the demo set again, the
// database keeps what it has.
func TestSeed_restartOnAKeptDatabaseAddsNothing(t *testing.T) {
	t.Parallel()
	s := startStack(t, Options{Seed: true})
	s.call("POST", "/api/platzsuchen", map[string]any{"patient_id": 10}, 201)
	count := func() [3]int {
		return [3]int{
			scalar[int](s, `SELECT count(*) FROM matching_service.platzsuche`),
			scalar[int](s, `SELECT count(*) FROM matching_service.therapeutenanfrage`),
			scalar[int](s, `SELECT count(*) FROM matching_service.therapeut_kontaktsperre`),
		}
	}
	before := count()
	s.Stop()

	again, err := Start(context.Background(), Options{DatabaseURL: s.DatabaseURL, Seed: true, Logging: s.opts.Logging})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if after := count(); after != before {
		t.Errorf("rows (searches, anfragen, cooling) %v after the restart, %v before", after, before)
	}
	if _, ok := again.Neighbours.Patient(12); !ok {
		t.Error("the fake neighbours have no demo data after the restart")
	}

	// Reset brings back the demo state with the same ids.
	again.Stop()
	reset, err := Start(context.Background(), Options{DatabaseURL: s.DatabaseURL, Seed: true, Reset: true, Logging: s.opts.Logging})
	if err != nil {
		t.Fatal(err)
	}
	defer reset.Stop()
	if got := count(); got != [3]int{9, 1, 1} {
		t.Errorf("after a reset: %v (searches, anfragen, cooling), want the demo set [9 1 1]", got)
	}
	if ids := scalar[[]int64](s, `SELECT array_agg(patient_id ORDER BY id) FROM matching_service.platzsuche`); !cmp.Equal(ids, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("search i belongs to patient %v", ids)
	}
}

// With KAFKA_BOOTSTRAP_SERVERS the stack runs no broker of its own and
// consumes and produces on the one given.
func TestStart_usesAGivenBroker(t *testing.T) {
	t.Parallel()
	broker, err := localkafka.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer broker.Close()
	s := startStack(t, Options{Seed: true, Brokers: broker.Addrs})
	if s.EmbeddedKafka || !cmp.Equal(s.Brokers, broker.Addrs) {
		t.Fatalf("stack brokers %v (embedded %v), want %v", s.Brokers, s.EmbeddedKafka, broker.Addrs)
	}
	events := collect(t, broker.Addrs, "matching-events")
	s.publish("patient.deleted", `{"patient_id":3}`, FormEnvelope)
	got := events.waitEvents(t, 1, 10*time.Second)
	if got[0].Type != "search.status_changed" || got[0].Key != "3" {
		t.Errorf("event %+v", got[0])
	}
}
