package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

const createPath = "/api/therapeutenanfragen/erstellen-fuer-therapeut"

func TestCreateAnfrage_takesTheOldestEligibleSearchesUpToMax(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil) // weiblich, Verhaltenstherapie, Berlin 10117
	type seeded struct {
		patient, search int64
		eligible        bool
	}
	var all []seeded
	add := func(overrides map[string]any, eligible bool) seeded {
		e.setNow(testNow.Add(time.Duration(len(all)) * time.Minute))
		pid := e.patient(overrides)
		s := seeded{pid, e.search(pid), eligible}
		all = append(all, s)
		return s
	}
	add(nil, true)
	add(map[string]any{"plz": "20095", "ort": "Hamburg"}, false)                // other prefix
	add(map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"}, false) // patient preference
	add(map[string]any{"bevorzugtes_therapieverfahren": "tiefenpsychologisch_fundierte_Psychotherapie"}, false)
	add(map[string]any{"raeumliche_verfuegbarkeit": map[string]any{"max_km": 5}, "plz": "10999"}, false) // 88 km away
	add(map[string]any{"raeumliche_verfuegbarkeit": map[string]any{"max_km": nil}}, true)                // null max_km is the default
	excluded := add(nil, false)
	add(map[string]any{"ausgeschlossene_therapeuten": []any{tid}}, false) // patient-level exclusion list
	paused := add(nil, false)
	for range 6 {
		add(nil, true)
	}
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", excluded.search), map[string]any{"ausgeschlossene_therapeuten": []any{tid}}).must(t, 200)
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", paused.search), map[string]any{"status": "pausiert"}).must(t, 200)
	before := len(e.events())

	r := e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).must(t, 201)
	var wantPatients []any
	var wantIDs []any
	for _, s := range all {
		if s.eligible && len(wantPatients) < 6 {
			wantPatients = append(wantPatients, jsonNum(s.patient))
			wantIDs = append(wantIDs, jsonNum(s.patient))
		}
	}
	aid := num(t, r.body["anfrage_id"])
	want := map[string]any{
		"message": "Created anfrage with 6 patients", "anfrage_id": jsonNum(aid), "therapist_id": jsonNum(tid),
		"anfragegroesse": jsonNum(6), "patient_ids": wantPatients, "gesendet": false,
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
	evs := e.eventsSince(before)
	wantEv := []outboxEvent{{Type: "therapeutenanfrage.created", Key: fmt.Sprint(aid), Payload: map[string]any{
		"anfrage_id": jsonNum(aid), "therapist_id": jsonNum(tid), "patient_ids": wantIDs, "anfrage_size": jsonNum(6)}}}
	if d := cmp.Diff(wantEv, evs, cmpIgnoreID); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
	got := scalar[[]int64](e, `SELECT array_agg(position_in_anfrage ORDER BY position_in_anfrage) FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = $1`, aid)
	if d := cmp.Diff([]int64{1, 2, 3, 4, 5, 6}, got); d != "" {
		t.Errorf("positions (-want +got):\n%s", d)
	}
}

func TestCreateAnfrage_errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	blocked := e.therapist(map[string]any{"status": "gesperrt"})
	recordCooling := e.therapist(map[string]any{"naechster_kontakt_moeglich": "2025-08-13"})
	ownCooling := e.therapist(nil)
	e.exec(`INSERT INTO matching_service.therapeut_kontaktsperre (therapist_id, naechster_kontakt_moeglich, grund) VALUES ($1, '2025-09-01', 'response_received')`, ownCooling)
	busy := e.therapist(nil)
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse) VALUES (77, $1, 1)`, busy)
	lonely := e.therapist(nil) // no searches exist yet
	before := len(e.events())

	cases := map[string]struct {
		body   any
		status int
		want   map[string]any
	}{
		"missing therapist_id": {map[string]any{"plz_prefix": "10"}, 400, map[string]any{"message": map[string]any{"therapist_id": missingHelp}}},
		"missing plz_prefix":   {map[string]any{"therapist_id": 1}, 400, map[string]any{"message": map[string]any{"plz_prefix": missingHelp}}},
		"short prefix":         {map[string]any{"therapist_id": 1, "plz_prefix": "1"}, 400, map[string]any{"message": "Invalid PLZ prefix. Must be exactly 2 digits."}},
		"non-digit prefix":     {map[string]any{"therapist_id": 1, "plz_prefix": "1a"}, 400, map[string]any{"message": "Invalid PLZ prefix. Must be exactly 2 digits."}},
		"bad sofort_senden": {map[string]any{"therapist_id": 1, "plz_prefix": "10", "sofort_senden": "ja"}, 400,
			map[string]any{"message": map[string]any{"sofort_senden": `Invalid boolean value "ja"; use true, false, 1 or 0`}}},
		"unknown therapist": {map[string]any{"therapist_id": 999, "plz_prefix": "10"}, 404, map[string]any{"message": "Therapist 999 not found"}},
		"not aktiv": {map[string]any{"therapist_id": blocked, "plz_prefix": "10"}, 409,
			map[string]any{"message": fmt.Sprintf("Therapist %d is not active (status: gesperrt)", blocked)}},
		"cooling in the therapist record": {map[string]any{"therapist_id": recordCooling, "plz_prefix": "10"}, 409,
			map[string]any{"message": fmt.Sprintf("Therapist %d is in a cooling period until 2025-08-13", recordCooling), "naechster_kontakt_moeglich": "2025-08-13"}},
		"cooling held by matching": {map[string]any{"therapist_id": ownCooling, "plz_prefix": "10"}, 409,
			map[string]any{"message": fmt.Sprintf("Therapist %d is in a cooling period until 2025-09-01", ownCooling), "naechster_kontakt_moeglich": "2025-09-01"}},
		"open anfrage": {map[string]any{"therapist_id": busy, "plz_prefix": "10"}, 409,
			map[string]any{"message": fmt.Sprintf("Therapist %d already has an open anfrage (77)", busy), "anfrage_id": jsonNum(77)}},
		"no eligible patients": {map[string]any{"therapist_id": lonely, "plz_prefix": "10"}, 200,
			map[string]any{"message": "No eligible patients found for this therapist", "therapist_id": jsonNum(lonely), "plz_prefix": "10"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", createPath, tc.body).must(t, tc.status)
			if d := cmp.Diff(tc.want, r.body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("events after refused creations: %+v", evs)
	}

	e.fake.SetDown(fake.TherapistService, true)
	r := e.do("POST", createPath, map[string]any{"therapist_id": lonely, "plz_prefix": "10"}).must(t, 503)
	if r.body["message"] != "Therapist service unavailable" {
		t.Errorf("message %v", r.body["message"])
	}
	e.fake.SetDown(fake.TherapistService, false)
	e.search(e.patient(nil))
	e.fake.SetDown(fake.PatientService, true)
	e.do("POST", createPath, map[string]any{"therapist_id": lonely, "plz_prefix": "10"}).must(t, 503)
}

func TestCreateAnfrage_manualCoolingInThePastLiftsTheRecordsDate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(map[string]any{"naechster_kontakt_moeglich": "2025-12-01"})
	e.search(e.patient(nil))
	e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).must(t, 409)
	e.do("PUT", fmt.Sprintf("/api/therapeuten/%d/naechster-kontakt", tid),
		map[string]any{"naechster_kontakt_moeglich": "2025-08-01", "grund": "Rückruf vereinbart"}).must(t, 200)
	e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).must(t, 201)
}

func TestCreateAnfrage_concurrentCreatesForOneTherapistMakeOneAnfrage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	for range 3 {
		e.search(e.patient(nil))
	}
	e.fake.SetLatency(5 * time.Millisecond) // widen the window between the check and the insert
	statuses := make([]int, 5)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			statuses[i] = e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).status
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("status %d", s)
		}
	}
	n := scalar[int64](e, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE therapist_id = $1`, tid)
	if created != 1 || n != 1 {
		t.Errorf("created %d (statuses %v), anfragen in the database %d", created, statuses, n)
	}
	if got := len(e.events()) - 3; got != 1 {
		t.Errorf("%d therapeutenanfrage.created events", got)
	}
}

func TestCreateAnfrage_sofortSendenSendsRightAway(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	r := e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10", "sofort_senden": "true"}).must(t, 201)
	if r.body["gesendet"] != true {
		t.Errorf("gesendet %v", r.body["gesendet"])
	}
	if n := len(e.fake.Emails()); n != 1 {
		t.Errorf("%d emails", n)
	}
	var types []string
	for _, ev := range e.events() {
		types = append(types, ev.Type)
	}
	if d := cmp.Diff([]string{"search.status_changed", "therapeutenanfrage.created", "therapeutenanfrage.sent"}, types); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}

	// A failing immediate send keeps the anfrage, unsent.
	t2 := e.therapist(map[string]any{"email": "zwei@example.org"})
	e.search(e.patient(nil))
	e.fake.FailNext(fake.CreateEmail, 1, 500)
	r = e.do("POST", createPath, map[string]any{"therapist_id": t2, "plz_prefix": "10", "sofort_senden": 1}).must(t, 201)
	if r.body["gesendet"] != false {
		t.Errorf("gesendet %v after a failed send", r.body["gesendet"])
	}
}

func TestSelectTherapists_groupsPendingCoolingAndTiers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// A practice of two sharing one address: the owner is the one whose name is in it.
	owner := e.therapist(map[string]any{"nachname": "Müller", "vorname": "Anna", "email": "praxis.mueller@example.org", "titel": nil})
	e.therapist(map[string]any{"nachname": "Schmidt", "vorname": "Bea", "email": "Praxis.Mueller@example.org ", "titel": "Prof."})
	pending := e.therapist(map[string]any{"nachname": "Pending", "email": "p@example.org"})
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES ($1, 1)`, pending)
	cooling := e.therapist(map[string]any{"nachname": "Cooling", "email": "c@example.org"})
	e.exec(`INSERT INTO matching_service.therapeut_kontaktsperre (therapist_id, naechster_kontakt_moeglich, grund) VALUES ($1, '2025-08-20', 'manual')`, cooling)
	noEmail := e.therapist(map[string]any{"nachname": "Anrufer", "email": nil, "potenziell_verfuegbar": true})
	tier1 := e.therapist(map[string]any{"nachname": "Zander", "email": "z@example.org", "ueber_curavani_informiert": false})
	e.therapist(map[string]any{"nachname": "Hamburg", "plz": "20095", "email": "h@example.org"})

	r := e.do("GET", "/api/therapeuten-zur-auswahl?plz_prefix=10", nil).must(t, 200)
	var ids []int64
	for _, it := range r.body["data"].([]any) {
		ids = append(ids, num(t, it.(map[string]any)["id"]))
	}
	if d := cmp.Diff([]int64{owner, tier1, noEmail}, ids); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
	if r.body["plz_prefix"] != "10" || num(t, r.body["total"]) != 3 {
		t.Errorf("plz_prefix %v total %v", r.body["plz_prefix"], r.body["total"])
	}
	first := r.body["data"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id": jsonNum(owner), "anrede": "Frau", "titel": nil, "vorname": "Anna", "nachname": "Müller",
		"strasse": "Friedrichstraße 10", "plz": "10117", "ort": "Berlin", "telefon": "+49 30 7654321",
		"email": "praxis.mueller@example.org", "potenziell_verfuegbar": true, "ueber_curavani_informiert": true,
		"naechster_kontakt_moeglich": nil, "bevorzugte_diagnosen": []any{}, "psychotherapieverfahren": "Verhaltenstherapie",
	}
	if d := cmp.Diff(want, first); d != "" {
		t.Errorf("item (-want +got):\n%s", d)
	}

	r = e.do("GET", "/api/therapeuten-zur-auswahl", nil).must(t, 400)
	if d := cmp.Diff(map[string]any{"message": map[string]any{"plz_prefix": missingHelp}}, r.body); d != "" {
		t.Error(d)
	}
	r = e.do("GET", "/api/therapeuten-zur-auswahl?plz_prefix=101", nil).must(t, 400)
	if r.body["message"] != "Invalid PLZ prefix. Must be exactly 2 digits." {
		t.Errorf("message %v", r.body["message"])
	}
	e.fake.SetDown(fake.TherapistService, true)
	e.do("GET", "/api/therapeuten-zur-auswahl?plz_prefix=10", nil).must(t, 503)
}

func TestListAnfragen_filtersPaginationAndSummaryCoverTheFilteredSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t1 := e.therapist(map[string]any{"vorname": "Eins", "nachname": "T"})
	t2 := e.therapist(map[string]any{"vorname": "Zwei", "nachname": "T"})
	// id, therapist, created (minutes after testNow-30d), sent (days before now), answered, size, cancelled
	type row struct {
		id, therapist int64
		sentDaysAgo   int // -1: unsent
		answered      bool
		size          int
		cancelled     bool
	}
	rows := []row{
		{1, t1, -1, false, 1, false},
		{2, t1, 2, false, 2, false},
		{3, t1, 8, false, 3, false}, // needs follow-up
		{4, t2, 10, true, 4, false},
		{5, t2, 7, false, 5, false}, // needs follow-up (exactly 7 days)
		{6, t2, -1, false, 6, true}, // cancelled
	}
	for i, r := range rows {
		var sent, answered any
		if r.sentDaysAgo >= 0 {
			sent = testNow.Add(-time.Duration(r.sentDaysAgo) * 24 * time.Hour)
		}
		if r.answered {
			answered = testNow.Add(-time.Hour)
		}
		var cancelled any
		if r.cancelled {
			cancelled = testNow
		}
		e.exec(`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, erstellt_datum, gesendet_datum, antwort_datum, anfragegroesse, storniert_datum)
		        VALUES ($1, $2, $3, $4, $5, $6, $7)`, r.id, r.therapist, testNow.Add(-30*24*time.Hour+time.Duration(i)*time.Minute), sent, answered, r.size, cancelled)
	}
	cases := map[string]struct {
		query   string
		ids     []int64
		total   int64
		summary [3]int64 // unsent, pending, follow-up
	}{
		"all, newest first":                   {"", []int64{6, 5, 4, 3, 2, 1}, 6, [3]int64{2, 3, 2}},
		"page 2 of 4 keeps the whole summary": {"?limit=4&page=2", []int64{2, 1}, 6, [3]int64{2, 3, 2}},
		"therapist":                           {fmt.Sprintf("?therapist_id=%d", t1), []int64{3, 2, 1}, 3, [3]int64{1, 2, 1}},
		"gesendet":                            {"?versand_status=gesendet", []int64{5, 4, 3, 2}, 4, [3]int64{0, 3, 2}},
		"ungesendet":                          {"?versand_status=ungesendet", []int64{6, 1}, 2, [3]int64{2, 0, 0}},
		"beantwortet":                         {"?antwort_status=beantwortet", []int64{4}, 1, [3]int64{0, 0, 0}},
		"ausstehend":                          {"?antwort_status=ausstehend", []int64{5, 3, 2}, 3, [3]int64{0, 3, 2}},
		"follow-up true":                      {"?nachverfolgung_erforderlich=true&limit=1", []int64{5}, 2, [3]int64{0, 2, 2}},
		"follow-up 1":                         {"?nachverfolgung_erforderlich=1", []int64{5, 3}, 2, [3]int64{0, 2, 2}},
		"follow-up false":                     {"?nachverfolgung_erforderlich=false", []int64{6, 4, 2, 1}, 4, [3]int64{2, 1, 0}},
		"follow-up 0":                         {"?nachverfolgung_erforderlich=0", []int64{6, 4, 2, 1}, 4, [3]int64{2, 1, 0}},
		"min_size":                            {"?min_size=3&max_size=5", []int64{5, 4, 3}, 3, [3]int64{0, 2, 2}},
		"min_size 0 filters nothing":          {"?min_size=0", []int64{6, 5, 4, 3, 2, 1}, 6, [3]int64{2, 3, 2}},
		"past the end":                        {"?page=5&limit=4", nil, 6, [3]int64{2, 3, 2}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/api/therapeutenanfragen"+tc.query, nil).must(t, 200)
			var ids []int64
			for _, it := range r.body["data"].([]any) {
				ids = append(ids, num(t, it.(map[string]any)["id"]))
			}
			if d := cmp.Diff(tc.ids, ids); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
			sum := r.body["summary"].(map[string]any)
			got := [4]int64{num(t, r.body["total"]), num(t, sum["unsent_anfragen"]), num(t, sum["pending_responses"]), num(t, sum["needing_follow_up"])}
			want := [4]int64{tc.total, tc.summary[0], tc.summary[1], tc.summary[2]}
			if got != want || num(t, sum["total_anfragen"]) != tc.total {
				t.Errorf("total, unsent, pending, follow-up = %v, want %v (summary %v)", got, want, sum)
			}
		})
	}

	r := e.do("GET", "/api/therapeutenanfragen?therapist_id=999999&limit=1", nil).must(t, 200)
	if num(t, r.body["total"]) != 0 {
		t.Errorf("total %v", r.body["total"])
	}
	r = e.do("GET", "/api/therapeutenanfragen?antwort_status=beantwortet", nil).must(t, 200)
	item := r.body["data"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id": jsonNum(4), "therapist_id": jsonNum(t2), "therapeuten_name": "Zwei T",
		"erstellt_datum": "2025-07-13T10:03:00.123456", "gesendet_datum": "2025-08-02T10:00:00.123456",
		"antwort_datum": "2025-08-12T09:00:00.123456", "tage_seit_versand": jsonNum(10), "antworttyp": nil,
		"anfragegroesse": jsonNum(4), "angenommen_anzahl": jsonNum(0), "abgelehnt_anzahl": jsonNum(0),
		"keine_antwort_anzahl": jsonNum(0), "nachverfolgung_erforderlich": false, "antwort_vollstaendig": true,
		"storniert_datum": nil,
	}
	if d := cmp.Diff(want, item); d != "" {
		t.Errorf("item (-want +got):\n%s", d)
	}

	for query, msg := range map[string]any{
		"?versand_status=x": "Invalid versand_status. Use 'gesendet' or 'ungesendet'",
		"?antwort_status=x": "Invalid antwort_status. Use 'beantwortet' or 'ausstehend'",
		"?nachverfolgung_erforderlich=vielleicht": map[string]any{
			"nachverfolgung_erforderlich": "Invalid boolean value 'vielleicht'; use true, false, 1 or 0"},
		"?min_size=x": map[string]any{"min_size": "invalid literal for int() with base 10: 'x'"},
	} {
		r := e.do("GET", "/api/therapeutenanfragen"+query, nil).must(t, 400)
		if d := cmp.Diff(msg, r.body["message"]); d != "" {
			t.Errorf("%s: %s", query, d)
		}
	}
}

func TestGetAnfrage_detail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	pid := e.patient(nil)
	sid := e.search(pid)
	aid := e.anfrage(tid, "10")
	e.setNow(testNow.Add(3*24*time.Hour + time.Hour))
	r := e.do("GET", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 200)
	if r.body["therapist"].(map[string]any)["nachname"] != "Musterfrau" {
		t.Errorf("therapist %v", r.body["therapist"])
	}
	patients := r.body["patients"].([]any)
	p := patients[0].(map[string]any)
	if _, ok := p["patient"].(map[string]any)["symptome"].([]any); !ok {
		t.Errorf("patient.symptome is not a list: %v", p["patient"])
	}
	delete(r.body, "therapist")
	delete(p, "patient")
	want := map[string]any{
		"id": jsonNum(aid), "therapist_id": jsonNum(tid),
		"erstellt_datum": "2025-08-12T10:00:00.123456", "gesendet_datum": nil, "antwort_datum": nil,
		"tage_seit_versand": nil, "antworttyp": nil, "anfragegroesse": jsonNum(1),
		"antwort_zusammenfassung": map[string]any{"total_accepted": jsonNum(0), "total_rejected": jsonNum(0),
			"total_no_response": jsonNum(0), "antwort_vollstaendig": false},
		"notizen": nil, "email_id": nil, "phone_call_id": nil, "nachverfolgung_erforderlich": false,
		"storniert_datum": nil, "storniert_grund": nil,
		"patients": []any{map[string]any{
			"position": jsonNum(1), "patient_id": jsonNum(pid), "platzsuche_id": jsonNum(sid),
			"search_created_at": "2025-08-12T10:00:00.123456", "wartezeit_tage": jsonNum(3),
			"status": "anstehend", "antwortergebnis": nil, "antwortnotizen": nil,
		}},
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("detail (-want +got):\n%s", d)
	}
	r = e.do("GET", "/api/therapeutenanfragen/4711", nil).must(t, 404)
	if r.body["message"] != "Anfrage 4711 not found" {
		t.Errorf("message %v", r.body["message"])
	}
}

func TestDeleteAnfrage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	aid := e.anfrage(tid, "10")
	r := e.do("DELETE", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 200)
	if r.body["message"] != "Therapeutenanfrage deleted successfully" {
		t.Errorf("message %v", r.body["message"])
	}
	if n := scalar[int64](e, `SELECT count(*) FROM matching_service.therapeut_anfrage_patient`); n != 0 {
		t.Errorf("%d entries left", n)
	}
	r = e.do("DELETE", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 404)
	if r.body["message"] != fmt.Sprintf("Anfrage %d not found", aid) {
		t.Errorf("message %v", r.body["message"])
	}
}
