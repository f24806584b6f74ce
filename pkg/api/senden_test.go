package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

func sendPath(id int64) string { return fmt.Sprintf("/api/therapeutenanfragen/%d/senden", id) }

func TestSendAnfrage_byEmailQueuedDirectly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(map[string]any{"email": " praxis@musterfrau.example.org "})
	p1 := e.patient(map[string]any{"erfahrung_mit_psychotherapie": true, "letzte_sitzung_vorherige_psychotherapie": "2023-03-01"})
	p2 := e.patient(map[string]any{"geschlecht": "weiblich"})
	e.search(p1)
	e.search(p2)
	aid := e.anfrage(tid, "10")
	before := len(e.events())

	e.setNow(testNow.Add(time.Hour))
	r := e.do("POST", sendPath(aid), nil).must(t, 200)
	emails := e.fake.Emails()
	if len(emails) != 1 {
		t.Fatalf("%d emails", len(emails))
	}
	eid := emails[0].ID
	want := map[string]any{
		"message": "Anfrage sent successfully", "anfrage_id": jsonNum(aid), "communication_type": "email",
		"email_id": jsonNum(eid), "phone_call_id": nil, "sent_date": "2025-08-12T11:00:00.123456",
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}

	// The exact request the communication service received.
	clients := e.clients()
	th, _ := clients.Therapists.Therapist(context.Background(), tid)
	pa, _ := clients.Patients.Patient(context.Background(), p1)
	pb, _ := clients.Patients.Patient(context.Background(), p2)
	wantBody := map[string]any{
		"therapist_id":     float64(tid),
		"betreff":          fmt.Sprintf("Suche Psychotherapieplätze - Ref: A%d", aid),
		"inhalt_markdown":  matching.RenderEmail(th.Matching(), []matching.Patient{pa.Matching(), pb.Matching()}, aid, testNow.Add(time.Hour)),
		"empfaenger_email": "praxis@musterfrau.example.org",
		"empfaenger_name":  "Dr. Erika Musterfrau",
		"add_legal_footer": true,
		"status":           "In_Warteschlange",
	}
	if d := cmp.Diff(wantBody, emails[0].Body); d != "" {
		t.Errorf("email request (-want +got):\n%s", d)
	}
	if emails[0].Record["status"] != "In_Warteschlange" {
		t.Errorf("stored email status %v", emails[0].Record["status"])
	}
	sent := scalar[time.Time](e, `SELECT gesendet_datum FROM matching_service.therapeutenanfrage WHERE id = $1`, aid)
	emailID := scalar[int64](e, `SELECT email_id FROM matching_service.therapeutenanfrage WHERE id = $1`, aid)
	if !sent.Equal(testNow.Add(time.Hour)) || emailID != eid {
		t.Errorf("gesendet_datum %v email_id %d", sent, emailID)
	}
	wantEv := []outboxEvent{{Type: "therapeutenanfrage.sent", Key: fmt.Sprint(aid), Payload: map[string]any{
		"anfrage_id": jsonNum(aid), "communication_type": "email", "communication_id": jsonNum(eid)}}}
	if d := cmp.Diff(wantEv, e.eventsSince(before), cmpIgnoreID); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	// The people as the letter showed them are kept for reading the reply.
	var people []matching.LetterPerson
	raw := scalar[string](e, `SELECT brief_personen::text FROM matching_service.therapeutenanfrage WHERE id = $1`, aid)
	if err := json.Unmarshal([]byte(raw), &people); err != nil {
		t.Fatalf("brief_personen %s: %v", raw, err)
	}
	if d := cmp.Diff(matching.LetterPeople([]matching.Patient{pa.Matching(), pb.Matching()}, testNow.Add(time.Hour)), people); d != "" {
		t.Errorf("the letter's people (-want +got):\n%s", d)
	}
	if len(people) != 2 || people[1].Person != 2 || people[1].PatientID != p2 || people[1].Geschlecht != "weiblich" {
		t.Errorf("Person 2 of the letter is %+v, want patient %d, weiblich", people, p2)
	}

	r = e.do("POST", sendPath(aid), nil).must(t, 400)
	if d := cmp.Diff(map[string]any{"message": "Anfrage already sent", "sent_date": "2025-08-12T11:00:00.123456"}, r.body); d != "" {
		t.Error(d)
	}
}

func TestSendAnfrage_byPhoneOnTheNextWorkingDayAtTheTherapistsTime(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		now        time.Time
		reachable  map[string]any
		date, time string
	}{
		"Tuesday → Wednesday, listed slot": {testNow, map[string]any{"mittwoch": []any{"09:30-11:00", "15:00-16:00"}}, "2025-08-13", "09:30"},
		"Friday → Monday, listed slot":     {time.Date(2025, 8, 15, 9, 0, 0, 0, time.UTC), map[string]any{"montag": []any{"08:00-09:00"}}, "2025-08-18", "08:00"},
		"Friday evening in Berlin is Saturday → Monday, default time": {time.Date(2025, 8, 15, 22, 30, 0, 0, time.UTC),
			map[string]any{"mittwoch": []any{"09:30-11:00"}}, "2025-08-18", "10:00"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t)
			e.setNow(tc.now)
			tid := e.therapist(map[string]any{"email": nil, "telefonische_erreichbarkeit": tc.reachable})
			e.search(e.patient(nil))
			aid := e.anfrage(tid, "10")
			before := len(e.events())
			r := e.do("POST", sendPath(aid), nil).must(t, 200)
			calls := e.fake.PhoneCalls()
			if len(calls) != 1 || len(e.fake.Emails()) != 0 {
				t.Fatalf("%d calls, %d emails", len(calls), len(e.fake.Emails()))
			}
			want := map[string]any{
				"therapist_id": float64(tid), "therapeutenanfrage_id": float64(aid),
				"geplantes_datum": tc.date, "geplante_zeit": tc.time,
				"notizen": fmt.Sprintf("Follow-up für Anfrage A%d", aid),
			}
			if d := cmp.Diff(want, calls[0].Body); d != "" {
				t.Errorf("phone call request (-want +got):\n%s", d)
			}
			if r.body["communication_type"] != "phone_call" || num(t, r.body["phone_call_id"]) != calls[0].ID || r.body["email_id"] != nil {
				t.Errorf("body %v", r.body)
			}
			wantEv := []outboxEvent{{Type: "therapeutenanfrage.sent", Key: fmt.Sprint(aid), Payload: map[string]any{
				"anfrage_id": jsonNum(aid), "communication_type": "phone_call", "communication_id": jsonNum(calls[0].ID)}}}
			if d := cmp.Diff(wantEv, e.eventsSince(before), cmpIgnoreID); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
		})
	}
}

func TestSendAnfrage_errorsLeaveItUnsentWithoutEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	setup := func(overrides map[string]any) (anfrage, therapist, patient int64) {
		tid := e.therapist(overrides)
		pid := e.patient(nil)
		e.search(pid)
		return e.anfrage(tid, "10"), tid, pid
	}
	cancelled, _, _ := setup(nil)
	e.exec(`UPDATE matching_service.therapeutenanfrage SET storniert_datum = $2, storniert_grund = 'Therapist blocked' WHERE id = $1`, cancelled, testNow)
	noTherapist, tid, _ := setup(map[string]any{"email": "b@example.org"})
	e.fake.RemoveTherapist(tid)
	noPatient, _, pid := setup(map[string]any{"email": "c@example.org"})
	e.fake.RemovePatient(pid)
	rejected, _, _ := setup(map[string]any{"email": "d@example.org"})
	down, _, _ := setup(map[string]any{"email": "e@example.org"})
	before := len(e.events())

	cases := []struct {
		name   string
		id     int64
		prep   func()
		status int
		msg    string
	}{
		{"unknown", 4711, nil, 404, "Anfrage 4711 not found"},
		{"cancelled", cancelled, nil, 409, fmt.Sprintf("Anfrage %d was cancelled", cancelled)},
		{"therapist gone", noTherapist, nil, 500, "Failed to send anfrage: Therapist not found"},
		{"patient gone", noPatient, nil, 500, "Failed to send anfrage: Patient data incomplete"},
		{"email refused", rejected, func() { e.fake.FailNext(fake.CreateEmail, 1, 400) }, 500, "Failed to send anfrage: Email creation failed"},
		{"communication down", down, func() { e.fake.SetDown(fake.CommunicationService, true) }, 503, "Communication service unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prep != nil {
				tc.prep()
			}
			r := e.do("POST", sendPath(tc.id), nil).must(t, tc.status)
			if r.body["message"] != tc.msg {
				t.Errorf("message %v", r.body["message"])
			}
			if tc.id != 4711 {
				if sent := scalar[*time.Time](e, `SELECT gesendet_datum FROM matching_service.therapeutenanfrage WHERE id = $1`, tc.id); sent != nil {
					t.Errorf("marked sent at %v", sent)
				}
			}
		})
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("failed sends emitted %+v", evs)
	}
	e.fake.SetDown(fake.CommunicationService, false)
	e.do("POST", sendPath(down), nil).must(t, 200)
}

func TestSendAnfrage_concurrentSendsSendOneEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	e.fake.SetLatency(20 * time.Millisecond) // the email creation takes a while
	statuses := make([]int, 4)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() { statuses[i] = e.do("POST", sendPath(aid), nil).status })
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("status %d", s)
		}
	}
	if ok != 1 || len(e.fake.Emails()) != 1 {
		t.Errorf("%d successful sends (%v), %d emails", ok, statuses, len(e.fake.Emails()))
	}
	n := 0
	for _, ev := range e.events() {
		if ev.Type == "therapeutenanfrage.sent" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d sent events", n)
	}
}

// clients are HTTP clients of the env's fake, for building expected values.
func (e *env) clients() *neighbours.Clients {
	return neighbours.NewClients(e.ncfg)
}
