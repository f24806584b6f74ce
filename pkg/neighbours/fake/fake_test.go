package fake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/neighbours/fake"
)

// call sends one request and returns the status and the decoded JSON answer.
func call(t *testing.T, srv *httptest.Server, method, path string, body any) (int, any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: %d, body not JSON: %v", method, path, resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

func serve(t *testing.T) (*fake.Fake, *httptest.Server) {
	t.Helper()
	f := fake.New()
	f.SetNow(func() time.Time { return time.Date(2030, 6, 14, 8, 30, 0, 0, time.UTC) })
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, srv
}

func message(t *testing.T, body any) any {
	t.Helper()
	m, ok := body.(map[string]any)
	if !ok {
		t.Fatalf("body %v is not an object", body)
	}
	return m["message"]
}

func TestCreatePatient_assignsIDsAndKeepsEveryKey(t *testing.T) {
	f, srv := serve(t)
	status, body := call(t, srv, "POST", "/api/patients", fake.SamplePatient(map[string]any{"id": 77, "hobby": "Schach", "plz": 10115}))
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	rec := body.(map[string]any)
	if rec["id"] != float64(1) {
		t.Errorf("id = %v, want 1 (a given id is ignored)", rec["id"])
	}
	if rec["hobby"] != "Schach" || rec["plz"] != "10115" || rec["hausarzt"] != nil || rec["status"] != "offen" {
		t.Errorf("record = %v", rec)
	}
	if _, ok := rec["hausarzt"]; !ok {
		t.Errorf("known field hausarzt missing; the service serialises every column")
	}
	if diff := cmp.Diff([]any{}, rec["ausgeschlossene_therapeuten"]); diff != "" {
		t.Errorf("ausgeschlossene_therapeuten default: %s", diff)
	}
	_, body = call(t, srv, "POST", "/api/patients", map[string]any{"vorname": "Zweite"})
	if body.(map[string]any)["id"] != float64(2) {
		t.Errorf("second id = %v", body.(map[string]any)["id"])
	}
	stored, ok := f.Patient(1)
	if !ok || stored["hobby"] != "Schach" {
		t.Errorf("stored %v", stored)
	}
	status, body = call(t, srv, "GET", "/api/patients/1", nil)
	if status != 200 || body.(map[string]any)["vorname"] != "Max" {
		t.Errorf("GET: %d %v", status, body)
	}
}

func TestCreateTherapist_defaults(t *testing.T) {
	_, srv := serve(t)
	status, body := call(t, srv, "POST", "/api/therapists", map[string]any{"vorname": "A", "nachname": "B", "plz": "10115"})
	if status != http.StatusCreated {
		t.Fatalf("status %d: %v", status, body)
	}
	rec := body.(map[string]any)
	for k, want := range map[string]any{
		"status": "aktiv", "psychotherapieverfahren": "egal", "potenziell_verfuegbar": false,
		"ueber_curavani_informiert": false, "bevorzugt_gruppentherapie": false, "naechster_kontakt_moeglich": nil,
	} {
		if rec[k] != want {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
}

func TestPersonEndpoints_rejectWhatTheReferenceRejects(t *testing.T) {
	f, srv := serve(t)
	id := f.AddTherapist(fake.SampleTherapist(nil))
	for name, tc := range map[string]struct {
		method, path string
		body         any
		status       int
		message      any
	}{
		"patient birth date not ISO": {"POST", "/api/patients", map[string]any{"geburtsdatum": "15.05.1990"}, 400,
			"Invalid date format for geburtsdatum. Use YYYY-MM-DD"},
		"patient symptoms not a list": {"POST", "/api/patients", map[string]any{"symptome": "Angst"}, 400,
			"symptome: expected a list, got 'Angst'"},
		"therapist unknown status": {"POST", "/api/therapists", map[string]any{"status": "pausiert"}, 400,
			"Invalid status 'pausiert'. Valid values: ['aktiv', 'gesperrt', 'inaktiv']"},
		"therapist age not a number": {"POST", "/api/therapists", map[string]any{"alter_min": "zwanzig"}, 400,
			"alter_min: invalid literal for int() with base 10: 'zwanzig'"},
		"cooling date not strict": {"PUT", fmt.Sprintf("/api/therapists/%d", id), map[string]any{"naechster_kontakt_moeglich": "2030-1-5"}, 400,
			"Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD"},
		"cooling date with time": {"PUT", fmt.Sprintf("/api/therapists/%d", id), map[string]any{"naechster_kontakt_moeglich": "2030-01-05T00:00:00"}, 400,
			"Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD"},
		"unknown therapist":   {"PUT", "/api/therapists/999", map[string]any{"naechster_kontakt_moeglich": "2030-01-05"}, 404, "Therapist not found"},
		"unknown patient":     {"GET", "/api/patients/999", nil, 404, "Patient not found"},
		"non-integer id":      {"GET", "/api/therapists/abc", nil, 404, "The requested URL was not found on the server."},
		"body is not JSON":    {"POST", "/api/patients", "not an object", 400, "The browser (or proxy) sent a request that this server could not understand."},
		"delete unknown":      {"DELETE", "/api/patients/999", nil, 404, "Patient not found"},
		"unknown phone call":  {"GET", "/api/phone-calls/5", nil, 404, "Phone call not found"},
		"unknown email (GET)": {"GET", "/api/emails/5", nil, 404, "Email not found"},
		"unknown email (PUT)": {"PUT", "/api/emails/5", map[string]any{"status": "Gesendet"}, 404, "Email not found"},
		"unknown call (PUT)":  {"PUT", "/api/phone-calls/5", map[string]any{"status": "abgeschlossen"}, 404, "Phone call not found"},
		"travel mode not known": {"GET", "/api/calculate-distance?origin=a&destination=b&travel_mode=bike", nil, 400,
			map[string]any{"travel_mode": "Mode of transport (car or transit)"}},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, srv, tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Errorf("status %d, want %d (%v)", status, tc.status, body)
			}
			if diff := cmp.Diff(tc.message, message(t, body)); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateTherapist_setsAndClearsTheCoolingDate(t *testing.T) {
	f, srv := serve(t)
	id := f.AddTherapist(fake.SampleTherapist(nil))
	path := fmt.Sprintf("/api/therapists/%d", id)
	status, body := call(t, srv, "PUT", path, map[string]any{"naechster_kontakt_moeglich": "2030-07-12", "unbekannt": 1})
	if status != 200 || body.(map[string]any)["naechster_kontakt_moeglich"] != "2030-07-12" {
		t.Fatalf("PUT: %d %v", status, body)
	}
	if _, ok := body.(map[string]any)["unbekannt"]; ok {
		t.Errorf("PUT stored an unknown key; reqparse ignores them")
	}
	// null leaves the value alone, "" clears it, as the reference's PUT does.
	call(t, srv, "PUT", path, map[string]any{"naechster_kontakt_moeglich": nil})
	if rec, _ := f.Therapist(id); rec["naechster_kontakt_moeglich"] != "2030-07-12" {
		t.Errorf("null changed the date: %v", rec["naechster_kontakt_moeglich"])
	}
	call(t, srv, "PUT", path, map[string]any{"naechster_kontakt_moeglich": ""})
	if rec, _ := f.Therapist(id); rec["naechster_kontakt_moeglich"] != nil {
		t.Errorf("\"\" did not clear the date: %v", rec["naechster_kontakt_moeglich"])
	}
}

func TestCreateEmail_validationMessagesInTheReferencesOrder(t *testing.T) {
	valid := func(change map[string]any) map[string]any {
		b := map[string]any{"therapist_id": 5, "betreff": "Betreff", "inhalt_markdown": "Hallo", "empfaenger_email": "a@example.org", "empfaenger_name": "A"}
		for k, v := range change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	for name, tc := range map[string]struct {
		body    map[string]any
		message string
	}{
		"no recipient id":        {valid(map[string]any{"therapist_id": nil}), "Either therapist_id or patient_id is required"},
		"recipient id zero":      {valid(map[string]any{"therapist_id": 0}), "Either therapist_id or patient_id is required"},
		"both recipient ids":     {valid(map[string]any{"patient_id": 9}), "Cannot specify both therapist_id and patient_id"},
		"no betreff":             {valid(map[string]any{"betreff": nil}), "betreff: Betreff is required"},
		"no content":             {valid(map[string]any{"inhalt_markdown": nil}), "Either inhalt_html, inhalt_text, or inhalt_markdown is required"},
		"empty content":          {valid(map[string]any{"inhalt_markdown": ""}), "Either inhalt_html, inhalt_text, or inhalt_markdown is required"},
		"no recipient address":   {valid(map[string]any{"empfaenger_email": nil}), "empfaenger_email: Empfaenger email is required"},
		"no recipient name":      {valid(map[string]any{"empfaenger_name": nil}), "empfaenger_name: Empfaenger name is required"},
		"betreff checked first":  {valid(map[string]any{"betreff": nil, "therapist_id": nil}), "betreff: Betreff is required"},
		"therapist id not a int": {valid(map[string]any{"therapist_id": "x"}), "therapist_id: invalid literal for int() with base 10: 'x'"},
		"unknown status": {valid(map[string]any{"status": "Versendet"}),
			"Invalid status 'Versendet'. Valid values: ['Entwurf', 'In_Warteschlange', 'Wird_gesendet', 'Gesendet', 'Fehlgeschlagen']"},
	} {
		t.Run(name, func(t *testing.T) {
			f, srv := serve(t)
			status, body := call(t, srv, "POST", "/api/emails", tc.body)
			if status != 400 || message(t, body) != tc.message {
				t.Errorf("got %d %v, want 400 %q", status, body, tc.message)
			}
			if len(f.Emails()) != 0 {
				t.Errorf("rejected email recorded")
			}
		})
	}
}

func TestEmails_createdAsDraftOrQueuedThenUpdatedAndListed(t *testing.T) {
	f, srv := serve(t)
	status, body := call(t, srv, "POST", "/api/emails", map[string]any{"patient_id": 3, "betreff": "B", "inhalt_text": "T", "empfaenger_email": "p@example.org", "empfaenger_name": "P"})
	if status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	draft := body.(map[string]any)
	if draft["status"] != "Entwurf" || draft["therapist_id"] != nil || draft["in_warteschlange_am"] != nil || draft["antwort_erhalten"] != false {
		t.Errorf("draft %v", draft)
	}
	_, body = call(t, srv, "POST", "/api/emails", map[string]any{"therapist_id": 4, "betreff": "B", "inhalt_markdown": "M", "empfaenger_email": "t@example.org", "empfaenger_name": "T", "status": "In_Warteschlange", "add_legal_footer": true})
	queued := body.(map[string]any)
	if queued["status"] != "In_Warteschlange" || queued["in_warteschlange_am"] != "2030-06-14T08:30:00" {
		t.Errorf("queued %v", queued)
	}

	status, body = call(t, srv, "PUT", "/api/emails/1", map[string]any{"status": "Gesendet"})
	if status != 200 || body.(map[string]any)["gesendet_am"] == nil {
		t.Errorf("PUT: %d %v", status, body)
	}
	status, body = call(t, srv, "PUT", "/api/emails/1", map[string]any{"status": "Weg"})
	if status != 400 {
		t.Errorf("PUT bad status: %d %v", status, body)
	}

	_, body = call(t, srv, "GET", "/api/emails?therapist_id=4", nil)
	list := body.(map[string]any)
	if list["total"] != float64(1) || list["data"].([]any)[0].(map[string]any)["id"] != float64(2) {
		t.Errorf("list %v", list)
	}
	_, body = call(t, srv, "GET", "/api/emails", nil)
	if ids := idsOf(body.(map[string]any)["data"]); !cmp.Equal(ids, []float64{2, 1}) {
		t.Errorf("emails newest first: %v", ids)
	}
	if got := f.Emails(); len(got) != 2 || got[0].Record["status"] != "Gesendet" {
		t.Errorf("Emails() = %+v", got)
	}
}

func idsOf(data any) []float64 {
	var ids []float64
	for _, it := range data.([]any) {
		ids = append(ids, it.(map[string]any)["id"].(float64))
	}
	return ids
}

func TestCreatePhoneCall(t *testing.T) {
	f, srv := serve(t)
	for name, tc := range map[string]struct {
		body    map[string]any
		message string
	}{
		"no recipient":    {map[string]any{"geplante_zeit": "10:00"}, "Either therapist_id or patient_id is required"},
		"both recipients": {map[string]any{"therapist_id": 1, "patient_id": 2}, "Cannot specify both therapist_id and patient_id"},
		"bad date":        {map[string]any{"therapist_id": 1, "geplantes_datum": "morgen"}, "Invalid date format: morgen"},
		"bad time":        {map[string]any{"therapist_id": 1, "geplante_zeit": "zehn"}, "Invalid time format: zehn"},
	} {
		t.Run(name, func(t *testing.T) {
			status, body := call(t, srv, "POST", "/api/phone-calls", tc.body)
			if status != 400 || message(t, body) != tc.message {
				t.Errorf("got %d %v, want 400 %q", status, body, tc.message)
			}
		})
	}

	status, body := call(t, srv, "POST", "/api/phone-calls", map[string]any{"therapist_id": 8, "therapeutenanfrage_id": 21,
		"geplantes_datum": "2030-06-17", "geplante_zeit": "9:05", "notizen": "Follow-up für Anfrage A21"})
	if status != 201 {
		t.Fatalf("%d %v", status, body)
	}
	want := map[string]any{
		"id": float64(1), "therapist_id": float64(8), "patient_id": nil, "therapeutenanfrage_id": float64(21),
		"geplantes_datum": "2030-06-17", "geplante_zeit": "09:05", "dauer_minuten": float64(5),
		"tatsaechliches_datum": nil, "tatsaechliche_zeit": nil, "status": "geplant", "ergebnis": nil,
		"notizen": "Follow-up für Anfrage A21", "created_at": "Fri, 14 Jun 2030 08:30:00 -0000", "updated_at": nil,
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}

	// Without a time the service picks tomorrow 10:00, then 14:00, then gives up.
	for _, want := range []string{"10:00", "14:00"} {
		_, body = call(t, srv, "POST", "/api/phone-calls", map[string]any{"therapist_id": 9})
		rec := body.(map[string]any)
		if rec["geplante_zeit"] != want || rec["geplantes_datum"] != "2030-06-15" {
			t.Errorf("slot %v %v, want 2030-06-15 %s", rec["geplantes_datum"], rec["geplante_zeit"], want)
		}
	}
	status, body = call(t, srv, "POST", "/api/phone-calls", map[string]any{"therapist_id": 9})
	if status != 400 || message(t, body) != "No available slots found for this therapist" {
		t.Errorf("third call: %d %v", status, body)
	}
	_, body = call(t, srv, "POST", "/api/phone-calls", map[string]any{"patient_id": 4})
	if rec := body.(map[string]any); rec["geplante_zeit"] != "10:00" || rec["dauer_minuten"] != float64(10) {
		t.Errorf("patient call %v", rec)
	}

	_, body = call(t, srv, "GET", "/api/phone-calls?therapeutenanfrage_id=21", nil)
	if ids := idsOf(body.(map[string]any)["data"]); !cmp.Equal(ids, []float64{1}) {
		t.Errorf("filtered list %v", ids)
	}
	status, body = call(t, srv, "PUT", "/api/phone-calls/1", map[string]any{"status": "abgeschlossen", "ergebnis": "erreicht"})
	if status != 200 || body.(map[string]any)["status"] != "abgeschlossen" {
		t.Errorf("PUT %d %v", status, body)
	}
	if len(f.PhoneCalls()) != 4 {
		t.Errorf("PhoneCalls() = %d, want the 4 accepted", len(f.PhoneCalls()))
	}
}

// The list filtered by therapeutenanfrage_id reads an index; it must answer
// exactly as a scan of every call would, in id order, after calls are
// created, added with explicit ids, replaced and moved to another anfrage.
func TestListPhoneCalls_byAnfrageFollowsEveryChange(t *testing.T) {
	f, srv := serve(t)
	list := func(query string) []float64 {
		t.Helper()
		status, body := call(t, srv, "GET", "/api/phone-calls?"+query, nil)
		if status != 200 {
			t.Fatalf("GET ?%s: %d %v", query, status, body)
		}
		return idsOf(body.(map[string]any)["data"])
	}
	post := func(anfrage int) {
		t.Helper()
		if status, body := call(t, srv, "POST", "/api/phone-calls", map[string]any{
			"therapist_id": 7, "therapeutenanfrage_id": anfrage, "geplantes_datum": "2030-06-17", "geplante_zeit": "10:00",
		}); status != 201 {
			t.Fatalf("POST: %d %v", status, body)
		}
	}
	post(21)                                                              // 1
	post(22)                                                              // 2
	f.AddPhoneCall(map[string]any{"id": 10, "therapeutenanfrage_id": 21}) // 10
	f.AddPhoneCall(map[string]any{"id": 5, "therapeutenanfrage_id": 21})  // 5, below the last id
	f.AddPhoneCall(map[string]any{"therapist_id": 7})                     // 11, no anfrage
	post(21)                                                              // 12
	f.AddPhoneCall(map[string]any{"id": 2, "therapeutenanfrage_id": 23})  // 2 replaced: now anfrage 23
	if status, body := call(t, srv, "PUT", "/api/phone-calls/10", map[string]any{"therapeutenanfrage_id": 22}); status != 200 {
		t.Fatalf("PUT: %d %v", status, body)
	}
	if status, body := call(t, srv, "PUT", "/api/phone-calls/5", map[string]any{"status": "abgeschlossen"}); status != 200 {
		t.Fatalf("PUT: %d %v", status, body)
	}

	for query, want := range map[string][]float64{
		"therapeutenanfrage_id=21":                {1, 5, 12},
		"therapeutenanfrage_id=22":                {10},
		"therapeutenanfrage_id=23":                {2},
		"therapeutenanfrage_id=99":                nil,
		"therapeutenanfrage_id=21&status=geplant": {1, 12},
		"therapeutenanfrage_id=21&limit=2&page=2": {12},
		"therapeutenanfrage_id=0":                 {1, 2, 5, 10, 11, 12}, // ignored, as the reference does
		"therapeutenanfrage_id=abc":               {1, 2, 5, 10, 11, 12},
		"therapeutenanfrage_id=21&therapist_id=7": {1, 12},
	} {
		if got := list(query); !cmp.Equal(got, want) {
			t.Errorf("GET /api/phone-calls?%s: ids %v, want %v", query, got, want)
		}
	}
}

func TestListTherapists_paginationClampsAndFilters(t *testing.T) {
	f, srv := serve(t)
	for i := 0; i < 30; i++ {
		plz := "10115"
		if i%3 == 0 {
			plz = "20095"
		}
		status := "aktiv"
		if i%5 == 0 {
			status = "gesperrt"
		}
		f.AddTherapist(fake.SampleTherapist(map[string]any{"plz": plz, "status": status}))
	}
	for name, tc := range map[string]struct {
		query              string
		page, limit, total float64
		ids                []float64
	}{
		"defaults":           {"", 1, 20, 30, nil},
		"filtered":           {"?status=aktiv&plz_prefix=10", 1, 20, 16, []float64{2, 3, 5, 8, 9, 12, 14, 15, 17, 18, 20, 23, 24, 27, 29, 30}},
		"second page":        {"?status=aktiv&plz_prefix=10&page=2&limit=5", 2, 5, 16, []float64{12, 14, 15, 17, 18}},
		"limit clamped high": {"?limit=2000", 1, 1000, 30, nil},
		"limit clamped low":  {"?limit=0", 1, 1, 30, []float64{1}},
		"page clamped":       {"?page=0&limit=1", 1, 1, 30, []float64{1}},
		"junk falls back":    {"?page=x&limit=y", 1, 20, 30, nil},
		"beyond the end":     {"?page=9&limit=10", 9, 10, 30, []float64{}},
	} {
		t.Run(name, func(t *testing.T) {
			_, body := call(t, srv, "GET", "/api/therapists"+tc.query, nil)
			m := body.(map[string]any)
			if m["page"] != tc.page || m["limit"] != tc.limit || m["total"] != tc.total {
				t.Errorf("page %v limit %v total %v", m["page"], m["limit"], m["total"])
			}
			if tc.ids != nil {
				ids := idsOf(m["data"])
				if ids == nil {
					ids = []float64{}
				}
				if diff := cmp.Diff(tc.ids, ids); diff != "" {
					t.Errorf("ids (-want +got):\n%s", diff)
				}
			}
		})
	}
	f.SetBareLists(true)
	_, body := call(t, srv, "GET", "/api/therapists?limit=3", nil)
	if ids := idsOf(body); !cmp.Equal(ids, []float64{1, 2, 3}) {
		t.Errorf("bare list %v", body)
	}
}

func TestFaults_failNextQueuesAndSetDownAndCounts(t *testing.T) {
	f, srv := serve(t)
	f.AddPatient(fake.SamplePatient(map[string]any{"id": 1}))
	f.FailNext(fake.GetPatient, 2, 500)
	f.FailNext(fake.GetPatient, 1, 404)
	var got []int
	for i := 0; i < 4; i++ {
		status, _ := call(t, srv, "GET", "/api/patients/1", nil)
		got = append(got, status)
	}
	if diff := cmp.Diff([]int{500, 500, 404, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	f.SetDown(fake.PatientService, true)
	if status, body := call(t, srv, "GET", "/api/patients/1", nil); status != 503 || message(t, body) != "Service unavailable" {
		t.Errorf("down: %d %v", status, body)
	}
	if status, _ := call(t, srv, "GET", "/api/calculate-distance?origin=10115&destination=10117", nil); status != 200 {
		t.Errorf("another service went down too: %d", status)
	}
	f.SetDown(fake.PatientService, false)
	if status, _ := call(t, srv, "GET", "/api/patients/1", nil); status != 200 {
		t.Errorf("up again: %d", status)
	}
	if n := f.Count(fake.GetPatient); n != 6 {
		t.Errorf("count %d, want 6", n)
	}
	if c := f.Counts(); c[fake.CalculateDistance] != 1 || len(c) != 2 {
		t.Errorf("counts %v", c)
	}
	f.ResetCounts()
	if n := f.Count(fake.GetPatient); n != 0 {
		t.Errorf("after reset %d", n)
	}
}

func TestAddPatient_acceptsStructsRawJSONAndExplicitIDs(t *testing.T) {
	f := fake.New()
	a := f.AddPatient(`{"vorname": "Roh", "symptome": null}`)
	b := f.AddPatient(map[string]any{"id": 40, "vorname": "Vierzig"})
	c := f.AddPatient(struct {
		Vorname string `json:"vorname"`
	}{"Struct"})
	if a != 1 || b != 40 || c != 41 {
		t.Errorf("ids %d %d %d, want 1 40 41", a, b, c)
	}
	p, _ := f.Patient(1)
	if p["symptome"] != nil || p["vorname"] != "Roh" {
		t.Errorf("patient 1 = %v", p)
	}
	if !f.SetPatientFields(40, map[string]any{"plz": nil}) || f.SetPatientFields(99, nil) {
		t.Errorf("SetPatientFields reported the wrong existence")
	}
	f.RemovePatient(40)
	if _, ok := f.Patient(40); ok {
		t.Errorf("removed patient still there")
	}
}

func TestListenAndServe_servesUntilTheContextEnds(t *testing.T) {
	f := fake.New()
	f.AddTherapist(fake.SampleTherapist(map[string]any{"id": 3}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Serve(ctx, ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/api/therapists/3")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve returned %v after shutdown", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the context ended")
	}
}

// One slow service leaves the others quick: a client that gives up after a
// moment gets no answer from the communication service only.
func TestFake_serviceLatencySlowsOneServiceOnly(t *testing.T) {
	f, srv := serve(t)
	f.AddPatient(fake.SamplePatient(map[string]any{"id": 1}))
	f.SetServiceLatency(fake.CommunicationService, 10*time.Second)
	client := &http.Client{Timeout: 500 * time.Millisecond}
	if resp, err := client.Get(srv.URL + "/api/patients/1"); err != nil {
		t.Errorf("the patient service was slowed too: %v", err)
	} else {
		resp.Body.Close()
	}
	if resp, err := client.Get(srv.URL + "/api/emails"); err == nil {
		resp.Body.Close()
		t.Error("the communication service answered at once")
	}
	f.SetServiceLatency(fake.CommunicationService, -1)
	if resp, err := client.Get(srv.URL + "/api/emails"); err != nil {
		t.Errorf("the service's latency was not removed: %v", err)
	} else {
		resp.Body.Close()
	}
}
