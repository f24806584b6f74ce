package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

const missingHelp = "Missing required parameter in the JSON body or the post body or the query string"

func TestCreateSearch_returns201AndEmitsStatusChangedFromNull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	r := e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": pid, "notizen": "Dringend"}).must(t, 201)
	id := num(t, r.body["id"])
	want := map[string]any{
		"id": r.body["id"], "patient_id": r.body["patient_id"], "status": "aktiv",
		"created_at": "2025-08-12T10:00:00.123456", "message": "Patient search created successfully",
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
	if got := scalar[string](e, `SELECT notizen FROM matching_service.platzsuche WHERE id = $1`, id); got != "[2025-08-12 10:00 (API)] Dringend" {
		t.Errorf("notizen = %q", got)
	}
	evs := e.events()
	if len(evs) != 1 {
		t.Fatalf("events = %+v, want one", evs)
	}
	ev := evs[0]
	if ev.Type != "search.status_changed" || ev.Key != fmt.Sprint(id) {
		t.Errorf("event %s key %s", ev.Type, ev.Key)
	}
	wantPayload := map[string]any{"search_id": r.body["id"], "patient_id": r.body["patient_id"], "old_status": nil, "new_status": "aktiv"}
	if d := cmp.Diff(wantPayload, ev.Payload); d != "" {
		t.Errorf("payload (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{ev.ID}, e.pub.published()); d != "" {
		t.Errorf("published after commit (-want +got):\n%s", d)
	}
}

func TestCreateSearch_errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	incomplete := e.patient(map[string]any{"krankenkasse": " "})
	withSearch := e.patient(nil)
	existing := e.search(withSearch)
	before := len(e.events())

	cases := map[string]struct {
		body   any
		status int
		want   map[string]any
	}{
		"missing patient_id": {map[string]any{}, 400, map[string]any{"message": map[string]any{"patient_id": missingHelp}}},
		"empty body":         {nil, 400, map[string]any{"message": map[string]any{"patient_id": missingHelp}}},
		"patient_id not an int": {map[string]any{"patient_id": "abc"}, 400,
			map[string]any{"message": map[string]any{"patient_id": "invalid literal for int() with base 10: 'abc'"}}},
		"malformed JSON":  {`{"patient_id": `, 400, map[string]any{"message": "Invalid JSON body"}},
		"unknown patient": {map[string]any{"patient_id": 999}, 404, map[string]any{"message": "Patient 999 not found"}},
		"incomplete patient": {map[string]any{"patient_id": incomplete}, 400, map[string]any{
			"message":    "Cannot create platzsuche: Patient field 'krankenkasse' is required and cannot be empty",
			"patient_id": jsonNum(incomplete)}},
		"active search exists": {map[string]any{"patient_id": withSearch}, 400, map[string]any{
			"message": "Patient already has an active search", "search_id": jsonNum(existing)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", "/api/platzsuchen", tc.body).must(t, tc.status)
			if d := cmp.Diff(tc.want, r.body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
	if got := len(e.events()); got != before {
		t.Errorf("failed requests wrote %d events", got-before)
	}
}

func TestCreateSearch_patientServiceOutageIs503NotNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	e.fake.SetDown(fake.PatientService, true)
	r := e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": pid}).must(t, 503)
	if r.body["message"] != "Patient service unavailable" {
		t.Errorf("message %v", r.body["message"])
	}
}

func TestCreateSearch_bodyOver1MiBIs413(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	big := `{"patient_id": 1, "notizen": "` + strings.Repeat("x", 1<<20) + `"}`
	e.do("POST", "/api/platzsuchen", big).must(t, 413)
}

func TestCreateSearch_concurrentCreatesForOnePatientMakeOneSearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	var wg sync.WaitGroup
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Go(func() { statuses[i] = e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": pid}).status })
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		if s == 201 {
			created++
		} else if s != 400 {
			t.Errorf("status %d", s)
		}
	}
	if created != 1 || scalar[int64](e, `SELECT count(*) FROM matching_service.platzsuche`) != 1 {
		t.Errorf("%d created: %v", created, statuses)
	}
}

func TestListSearches_paginationClampsAndFiltersCountTheWholeSet(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []int64
	for i := range 5 {
		e.setNow(testNow.Add(time.Duration(i) * time.Minute))
		ids = append(ids, e.search(e.patient(map[string]any{"vorname": fmt.Sprintf("P%d", i)})))
	}
	e.exec(`UPDATE matching_service.platzsuche SET status = 'pausiert' WHERE id = $1`, ids[1])
	// Search 0 and 2 have anfrage entries: 2 and 1.
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse) VALUES (900, 7, 2), (901, 8, 1)`)
	e.exec(`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage, status)
	        SELECT 900, id, patient_id, 1, 'anstehend'::anfrage_patient_status FROM matching_service.platzsuche WHERE id = $1
	        UNION ALL SELECT 901, id, patient_id, 1, 'abgelehnt' FROM matching_service.platzsuche WHERE id = $1
	        UNION ALL SELECT 900, id, patient_id, 2, 'anstehend' FROM matching_service.platzsuche WHERE id = $2`, ids[0], ids[2])

	cases := map[string]struct {
		query       string
		page, limit int64
		total       int64
		ids         []int64
	}{
		"defaults, newest first":     {"", 1, 20, 5, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		"limit 2 page 2":             {"?limit=2&page=2", 2, 2, 5, []int64{ids[2], ids[1]}},
		"limit 0 clamps to 1":        {"?limit=0", 1, 1, 5, []int64{ids[4]}},
		"limit 2000 clamps to 1000":  {"?limit=2000", 1, 1000, 5, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		"page 0 clamps to 1":         {"?page=0&limit=1", 1, 1, 5, []int64{ids[4]}},
		"non-integer falls back":     {"?page=x&limit=y", 1, 20, 5, []int64{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		"page past the end":          {"?page=9&limit=2", 9, 2, 5, nil},
		"status":                     {"?status=pausiert", 1, 20, 1, []int64{ids[1]}},
		"patient_id 0 finds nothing": {"?patient_id=0", 1, 20, 0, nil},
		"min_anfragen before paging": {"?min_anfragen=1&limit=1", 1, 1, 2, []int64{ids[2]}},
		"max_anfragen 0":             {"?max_anfragen=0", 1, 20, 3, []int64{ids[4], ids[3], ids[1]}},
		"min and max":                {"?min_anfragen=2&max_anfragen=2", 1, 20, 1, []int64{ids[0]}},
	}
	// The server tolerates these queries; the OpenAPI document does not allow them.
	outsideContract := map[string]string{
		"limit 0 clamps to 1":       "limit below 1",
		"limit 2000 clamps to 1000": "limit above 1000",
		"page 0 clamps to 1":        "page below 1",
		"non-integer falls back":    "page and limit not integers",
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("GET", "/api/platzsuchen"+tc.query, nil, outside(outsideContract[name])...).must(t, 200)
			if num(t, r.body["page"]) != tc.page || num(t, r.body["limit"]) != tc.limit || num(t, r.body["total"]) != tc.total {
				t.Errorf("page %v limit %v total %v, want %d %d %d", r.body["page"], r.body["limit"], r.body["total"], tc.page, tc.limit, tc.total)
			}
			var got []int64
			for _, it := range r.body["data"].([]any) {
				got = append(got, num(t, it.(map[string]any)["id"]))
			}
			if d := cmp.Diff(tc.ids, got); d != "" {
				t.Errorf("ids (-want +got):\n%s", d)
			}
		})
	}

	r := e.do("GET", fmt.Sprintf("/api/platzsuchen?patient_id=%d", e.patientOf(ids[0])), nil).must(t, 200)
	item := r.body["data"].([]any)[0].(map[string]any)
	want := map[string]any{
		"id": jsonNum(ids[0]), "patient_id": jsonNum(e.patientOf(ids[0])), "patienten_name": "P0 Mustermann",
		"status": "aktiv", "created_at": "2025-08-12T10:00:00.123456", "updated_at": nil,
		"aktive_anfragen": jsonNum(1), "gesamt_anfragen": jsonNum(2),
		"ausgeschlossene_therapeuten_anzahl": jsonNum(0), "offen_fuer_gruppentherapie": true,
		"prioritaet": jsonNum(0),
	}
	if d := cmp.Diff(want, item); d != "" {
		t.Errorf("item (-want +got):\n%s", d)
	}
}

func TestListSearches_invalidParameters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do("GET", "/api/platzsuchen?status=offen", nil).must(t, 400)
	if r.body["message"] != "Invalid status 'offen'. Valid values: ['aktiv', 'erfolgreich', 'pausiert', 'abgebrochen']" {
		t.Errorf("message %v", r.body["message"])
	}
	r = e.do("GET", "/api/platzsuchen?min_anfragen=zwei", nil).must(t, 400)
	if d := cmp.Diff(map[string]any{"message": map[string]any{"min_anfragen": "invalid literal for int() with base 10: 'zwei'"}}, r.body); d != "" {
		t.Error(d)
	}
}

func TestListSearches_unknownPatientIsUnknownButOutageIs503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	e.search(pid)
	e.fake.RemovePatient(pid)
	r := e.do("GET", "/api/platzsuchen", nil).must(t, 200)
	item := r.body["data"].([]any)[0].(map[string]any)
	if item["patienten_name"] != "Unknown" || item["offen_fuer_gruppentherapie"] != false {
		t.Errorf("item %v", item)
	}
	e.fake.SetDown(fake.PatientService, true)
	e.do("GET", "/api/platzsuchen", nil).must(t, 503)
}

func TestGetSearch_detailWithHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	sid := e.search(pid)
	tid := e.therapist(nil)
	aid := e.anfrage(tid, "10")

	r := e.do("GET", fmt.Sprintf("/api/platzsuchen/%d", sid), nil).must(t, 200)
	if r.body["patient"].(map[string]any)["vorname"] != "Max" {
		t.Errorf("patient %v", r.body["patient"])
	}
	delete(r.body, "patient")
	want := map[string]any{
		"id": jsonNum(sid), "patient_id": jsonNum(pid), "status": "aktiv",
		"created_at": "2025-08-12T10:00:00.123456", "updated_at": nil,
		"ausgeschlossene_therapeuten": []any{}, "erfolgreiche_vermittlung_datum": nil, "notizen": nil,
		"aktive_anfragen": jsonNum(1), "gesamt_anfragen": jsonNum(1), "prioritaet": jsonNum(0),
		"anfrage_verlauf": []any{map[string]any{
			"anfrage_id": jsonNum(aid), "therapist_id": jsonNum(tid), "therapeuten_name": "Erika Musterfrau",
			"position": jsonNum(1), "status": "anstehend", "outcome": nil, "sent_date": nil, "response_date": nil,
		}},
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("detail (-want +got):\n%s", d)
	}
	r = e.do("GET", "/api/platzsuchen/4711", nil).must(t, 404)
	if r.body["message"] != "Patient search 4711 not found" {
		t.Errorf("message %v", r.body["message"])
	}
	e.do("GET", "/api/platzsuchen/abc", nil).must(t, 404)
}

func TestUpdateSearch_statusTransitions(t *testing.T) {
	t.Parallel()
	cases := []struct {
		from, to string
		status   int
	}{
		{"aktiv", "pausiert", 200},
		{"aktiv", "abgebrochen", 200},
		{"aktiv", "erfolgreich", 200},
		{"pausiert", "aktiv", 200},
		{"pausiert", "abgebrochen", 200},
		{"aktiv", "aktiv", 409},
		{"pausiert", "pausiert", 409},
		{"pausiert", "erfolgreich", 409},
		{"erfolgreich", "aktiv", 409},
		{"abgebrochen", "aktiv", 409},
		{"abgebrochen", "abgebrochen", 409},
	}
	e := newEnv(t)
	for _, tc := range cases {
		t.Run(tc.from+"→"+tc.to, func(t *testing.T) {
			pid := e.patient(nil)
			sid := e.search(pid)
			e.exec(`UPDATE matching_service.platzsuche SET status = $2::text::suchstatus WHERE id = $1`, sid, tc.from)
			before := len(e.events())
			r := e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", sid), map[string]any{"status": tc.to}).must(t, tc.status)
			evs := e.eventsSince(before)
			if tc.status == 409 {
				if want := fmt.Sprintf("Invalid status transition from %s to %s", tc.from, tc.to); r.body["message"] != want {
					t.Errorf("message %v, want %s", r.body["message"], want)
				}
				if len(evs) != 0 {
					t.Errorf("events after a refused transition: %+v", evs)
				}
				return
			}
			if d := cmp.Diff(map[string]any{"message": "Patient search updated successfully", "id": jsonNum(sid)}, r.body); d != "" {
				t.Error(d)
			}
			want := []outboxEvent{{ID: evs[0].ID, Type: "search.status_changed", Key: fmt.Sprint(sid), Payload: map[string]any{
				"search_id": jsonNum(sid), "patient_id": jsonNum(pid), "old_status": tc.from, "new_status": tc.to}}}
			if d := cmp.Diff(want, evs); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}
			success := scalar[*time.Time](e, `SELECT erfolgreiche_vermittlung_datum FROM matching_service.platzsuche WHERE id = $1`, sid)
			if (tc.to == "erfolgreich") != (success != nil) {
				t.Errorf("erfolgreiche_vermittlung_datum = %v", success)
			}
		})
	}
}

func TestUpdateSearch_notesExclusionsAndErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	sid := e.search(pid)
	path := fmt.Sprintf("/api/platzsuchen/%d", sid)
	before := len(e.events())

	e.do("PUT", path, map[string]any{"notizen": "neu", "ausgeschlossene_therapeuten": []any{101, 102}}).must(t, 200)
	r := e.do("GET", path, nil).must(t, 200)
	if d := cmp.Diff([]any{jsonNum(101), jsonNum(102)}, r.body["ausgeschlossene_therapeuten"]); d != "" {
		t.Errorf("exclusions (-want +got):\n%s", d)
	}
	if r.body["notizen"] != "neu" || r.body["updated_at"] != "2025-08-12T10:00:00.123456" {
		t.Errorf("notizen %v updated_at %v", r.body["notizen"], r.body["updated_at"])
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("no status change, yet events %+v", evs)
	}

	cases := map[string]struct {
		body   map[string]any
		status int
		msg    string
	}{
		"unknown status": {map[string]any{"status": "offen"}, 400, "Invalid status 'offen'. Valid values: ['aktiv', 'erfolgreich', 'pausiert', 'abgebrochen']"},
		"boolean id with a valid transition": {map[string]any{"status": "pausiert", "ausgeschlossene_therapeuten": []any{101, true}}, 400,
			"Invalid therapist IDs in exclusion list"},
		"string id": {map[string]any{"ausgeschlossene_therapeuten": []any{"101"}}, 400, "Invalid therapist IDs in exclusion list"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("PUT", path, tc.body).must(t, tc.status)
			if r.body["message"] != tc.msg {
				t.Errorf("message %v", r.body["message"])
			}
		})
	}
	if got := scalar[string](e, `SELECT status::text FROM matching_service.platzsuche WHERE id = $1`, sid); got != "aktiv" {
		t.Errorf("status %s after failed updates", got)
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("failed updates emitted %+v", evs)
	}
	r = e.do("PUT", "/api/platzsuchen/4711", map[string]any{"status": "pausiert"}).must(t, 404)
	if r.body["message"] != "Patient search 4711 not found" {
		t.Errorf("message %v", r.body["message"])
	}
}

func TestDeleteSearch_shrinksTheAnfragenItSatIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	var sids []int64
	for i := range 3 {
		e.setNow(testNow.Add(time.Duration(i) * time.Minute))
		sids = append(sids, e.search(e.patient(nil)))
	}
	aid := e.anfrage(tid, "10")
	// A second, one-patient anfrage of another therapist holding only the first search.
	other := e.therapist(map[string]any{"email": "other@example.org"})
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (id, therapist_id, anfragegroesse) VALUES (500, $1, 1)`, other)
	e.exec(`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
	        SELECT 500, id, patient_id, 1 FROM matching_service.platzsuche WHERE id = $1`, sids[0])

	r := e.do("DELETE", fmt.Sprintf("/api/platzsuchen/%d", sids[0]), nil).must(t, 200)
	if r.body["message"] != "Patient search deleted successfully" {
		t.Errorf("message %v", r.body["message"])
	}
	if n := scalar[int64](e, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE id = 500`); n != 0 {
		t.Error("the anfrage left without patients was kept")
	}
	d := e.do("GET", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 200)
	if num(t, d.body["anfragegroesse"]) != 2 {
		t.Errorf("anfragegroesse %v", d.body["anfragegroesse"])
	}
	var positions []int64
	for _, p := range d.body["patients"].([]any) {
		positions = append(positions, num(t, p.(map[string]any)["position"]))
	}
	if diff := cmp.Diff([]int64{1, 2}, positions); diff != "" {
		t.Errorf("positions (-want +got):\n%s", diff)
	}
	e.do("DELETE", fmt.Sprintf("/api/platzsuchen/%d", sids[0]), nil).must(t, 404)
	// The shrunk anfrage can be sent and answered.
	e.do("POST", fmt.Sprintf("/api/therapeutenanfragen/%d/senden", aid), nil).must(t, 200)
}

func TestDeleteSearch_recountsAnAnsweredAnfrage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	p1, p2 := e.patient(nil), e.patient(nil)
	s1 := e.search(p1)
	e.search(p2)
	aid := e.anfrage(tid, "10")
	e.do("POST", fmt.Sprintf("/api/therapeutenanfragen/%d/senden", aid), nil).must(t, 200)
	e.do("PUT", fmt.Sprintf("/api/therapeutenanfragen/%d/antwort", aid), map[string]any{"patient_responses": map[string]any{
		fmt.Sprint(p1): "abgelehnt_Kapazitaet", fmt.Sprint(p2): "angenommen"}}).must(t, 200)
	e.do("DELETE", fmt.Sprintf("/api/platzsuchen/%d", s1), nil).must(t, 200)
	d := e.do("GET", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 200)
	if d.body["antworttyp"] != "vollstaendige_Annahme" || num(t, d.body["anfragegroesse"]) != 1 {
		t.Errorf("antworttyp %v size %v", d.body["antworttyp"], d.body["anfragegroesse"])
	}
	sum := d.body["antwort_zusammenfassung"].(map[string]any)
	if num(t, sum["total_accepted"]) != 1 || num(t, sum["total_rejected"]) != 0 || num(t, sum["total_no_response"]) != 0 {
		t.Errorf("summary %v", sum)
	}
}

func TestRequestContacts_legacyKontaktanfrage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sid := e.search(e.patient(nil))
	paused := e.search(e.patient(nil))
	e.exec(`UPDATE matching_service.platzsuche SET status = 'pausiert' WHERE id = $1`, paused)
	path := fmt.Sprintf("/api/platzsuchen/%d/kontaktanfrage", sid)

	r := e.do("POST", path, map[string]any{"requested_count": 5, "notizen": "bitte"}).must(t, 200)
	want := map[string]any{"message": "Requested 5 additional contacts", "previous_total": jsonNum(0), "new_total": jsonNum(5), "search_id": jsonNum(sid)}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Error(d)
	}
	r = e.do("POST", path, map[string]any{"requested_count": 2}).must(t, 200)
	if num(t, r.body["previous_total"]) != 5 || num(t, r.body["new_total"]) != 7 {
		t.Errorf("second request %v", r.body)
	}
	notes := scalar[string](e, `SELECT notizen FROM matching_service.platzsuche WHERE id = $1`, sid)
	if notes != "[2025-08-12 10:00 (API)] Requested 5 additional contacts (total: 5) - bitte\n[2025-08-12 10:00 (API)] Requested 2 additional contacts (total: 7)" {
		t.Errorf("notizen %q", notes)
	}

	cases := map[string]struct {
		path   string
		body   any
		status int
		msg    any
	}{
		"zero":          {path, map[string]any{"requested_count": 0}, 400, "Requested count must be positive"},
		"too many":      {path, map[string]any{"requested_count": 101}, 400, "Requested count too high (max: 100)"},
		"count first":   {"/api/platzsuchen/4711/kontaktanfrage", map[string]any{"requested_count": 0}, 400, "Requested count must be positive"},
		"unknown":       {"/api/platzsuchen/4711/kontaktanfrage", map[string]any{"requested_count": 1}, 404, "Patient search 4711 not found"},
		"not aktiv":     {fmt.Sprintf("/api/platzsuchen/%d/kontaktanfrage", paused), map[string]any{"requested_count": 1}, 400, "Can only request contacts for active searches. Current status: pausiert"},
		"missing count": {path, map[string]any{}, 400, map[string]any{"requested_count": missingHelp}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("POST", tc.path, tc.body).must(t, tc.status)
			if d := cmp.Diff(tc.msg, r.body["message"]); d != "" {
				t.Error(d)
			}
		})
	}
}

// patientOf reads a search's patient.
func (e *env) patientOf(searchID int64) int64 {
	return scalar[int64](e, `SELECT patient_id FROM matching_service.platzsuche WHERE id = $1`, searchID)
}

func TestUpdateSearch_resumingWhileAnotherSearchIsActiveIs409(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	old := e.search(pid)
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", old), map[string]any{"status": "pausiert"}).must(t, 200)
	current := e.search(pid)
	before := len(e.events())
	r := e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", old), map[string]any{"status": "aktiv"}).must(t, 409)
	if d := cmp.Diff(map[string]any{"message": "Patient already has an active search", "search_id": jsonNum(current)}, r.body); d != "" {
		t.Error(d)
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("events %+v", evs)
	}
}
