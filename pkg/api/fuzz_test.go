package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
)

// fuzzRoutes are every route of the API, %s standing for the path's id.
var fuzzRoutes = []struct{ method, path string }{
	{"GET", "/api/platzsuchen"},
	{"POST", "/api/platzsuchen"},
	{"GET", "/api/platzsuchen/%s"},
	{"PUT", "/api/platzsuchen/%s"},
	{"DELETE", "/api/platzsuchen/%s"},
	{"POST", "/api/platzsuchen/%s/kontaktanfrage"},
	{"GET", "/api/therapeuten-zur-auswahl"},
	{"GET", "/api/therapeuten/%s/naechster-kontakt"},
	{"PUT", "/api/therapeuten/%s/naechster-kontakt"},
	{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut"},
	{"GET", "/api/therapeutenanfragen"},
	{"GET", "/api/therapeutenanfragen/%s"},
	{"DELETE", "/api/therapeutenanfragen/%s"},
	{"POST", "/api/therapeutenanfragen/%s/senden"},
	{"PUT", "/api/therapeutenanfragen/%s/antwort"},
	{"POST", "/api/therapeutenanfragen/%s/antwort-analyse"},
	{"GET", "/api/therapeutenanfragen/%s/antwort-vorschlag"},
	{"GET", "/api/antwort-vorschlaege"},
	{"GET", "/api/verlauf"},
}

// route returns the index of a route in fuzzRoutes.
func route(method, path string) uint8 {
	for i, r := range fuzzRoutes {
		if r.method == method && r.path == path {
			return uint8(i)
		}
	}
	panic("no route " + method + " " + path)
}

// FuzzAPIRequest sends any body and query string to any route of the API
// on a real database with the fake neighbours up. Whatever the request: no
// 5xx; a refusal is a 4xx whose JSON body has a message, and it changes no
// row and asks no neighbour to create anything; what the API stores from an
// accepted body, a GET reads back as sent (a search's patient, status,
// notes and priority, a cooling period's date and note). The database lives
// as long as the fuzzing process: the state the inputs build up (searches,
// anfragen, replies) is the state later inputs meet.
func FuzzAPIRequest(f *testing.F) {
	e := newEnv(f)
	aid, tid, patients, searches := e.sentAnfrage(2)
	free := e.patient(nil)
	other := e.therapist(nil)
	unsent := e.anfrage(other, "10")
	n := func(id int64) string { return fmt.Sprint(id) }

	// Seeds: the bodies and queries of the tests and the README.
	for _, s := range []struct {
		method, path, id, query, body string
	}{
		{"GET", "/api/platzsuchen", "", "status=aktiv&page=1&limit=20", ""},
		{"GET", "/api/platzsuchen", "", "patient_id=" + n(patients[0]) + "&min_anfragen=0&max_anfragen=3", ""},
		{"POST", "/api/platzsuchen", "", "", `{"patient_id":` + n(free) + `,"notizen":"Abends"}`},
		{"POST", "/api/platzsuchen", "", "", `{"patient_id":"` + n(free) + `"}`},
		{"GET", "/api/platzsuchen/%s", n(searches[0]), "stand=2025-08-12T10:00:00Z", ""},
		{"PUT", "/api/platzsuchen/%s", n(searches[1]), "", `{"status":"pausiert","notizen":"n","ausgeschlossene_therapeuten":[1,{"id":2,"reason":"r"}],"prioritaet":5}`},
		{"PUT", "/api/platzsuchen/%s", n(searches[1]), "", `{"status":"aktiv","prioritaet":"-3"}`},
		{"DELETE", "/api/platzsuchen/%s", n(searches[1]), "", ""},
		{"POST", "/api/platzsuchen/%s/kontaktanfrage", n(searches[0]), "", `{"requested_count":1,"notizen":"n"}`},
		{"GET", "/api/therapeuten-zur-auswahl", "", "plz_prefix=10", ""},
		{"GET", "/api/therapeuten/%s/naechster-kontakt", n(tid), "", ""},
		{"PUT", "/api/therapeuten/%s/naechster-kontakt", n(other), "", `{"naechster_kontakt_moeglich":"2025-10-01","grund":"Urlaub"}`},
		{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", "", "", `{"therapist_id":` + n(other) + `,"plz_prefix":"10","sofort_senden":false}`},
		{"GET", "/api/therapeutenanfragen", "", "versand_status=gesendet&antwort_status=ausstehend&nachverfolgung_erforderlich=true&min_size=1&max_size=6&therapist_id=" + n(tid), ""},
		{"GET", "/api/therapeutenanfragen/%s", n(aid), "stand=2025-08-12T10:00:00.5+02:00", ""},
		{"DELETE", "/api/therapeutenanfragen/%s", n(unsent), "", ""},
		{"POST", "/api/therapeutenanfragen/%s/senden", n(unsent), "", ""},
		{"PUT", "/api/therapeutenanfragen/%s/antwort", n(aid), "", `{"patient_responses":{"` + n(patients[0]) + `":"angenommen","` + n(patients[1]) + `":"abgelehnt_Kapazitaet"},"notizen":"n","follow_up_required":false}`},
		{"POST", "/api/therapeutenanfragen/%s/antwort-analyse", n(aid), "", `{"subject":"AW: Ref: A` + n(aid) + `","body":"Person 1 nehme ich gerne, Person 2 leider nicht."}`},
		{"GET", "/api/therapeutenanfragen/%s/antwort-vorschlag", n(aid), "", ""},
		{"GET", "/api/antwort-vorschlaege", "", "status=offen&page=2&limit=5", ""},
		{"GET", "/api/verlauf", "", "platzsuche_id=" + n(searches[0]) + "&page=1&limit=50", ""},
		{"GET", "/api/verlauf", "", "anfrage_id=" + n(aid) + "&patient_id=1", ""},
	} {
		f.Add(route(s.method, s.path), s.id, s.query, []byte(s.body))
	}

	state := e.fuzzState(f)
	f.Fuzz(func(t *testing.T, which uint8, id, query string, body []byte) {
		rt := fuzzRoutes[int(which)%len(fuzzRoutes)]
		path := rt.path
		if strings.Contains(path, "%s") {
			path = fmt.Sprintf(path, id)
		}
		r := e.serve(rt.method, path, query, body)
		switch {
		case r.status >= 500:
			t.Fatalf("%s %s?%s %q: %d %s", rt.method, path, query, body, r.status, r.raw)
		case r.status >= 400:
			if !hasMessage(r) {
				t.Fatalf("%s %s: %d without a JSON message: %q", rt.method, path, r.status, r.raw)
			}
			if now := e.fuzzState(t); now != state {
				t.Fatalf("%s %s?%s %q was refused (%d %s) but changed the database or asked a neighbour to create something",
					rt.method, path, query, body, r.status, r.raw)
			}
			return
		}
		state = e.fuzzState(t)
		if r.status < 300 {
			e.checkReadBack(t, rt.method, rt.path, path, body, r)
		}
	})
}

// serve hands a request straight to the API's handler (no network, for
// speed); the query string is taken as it comes.
func (e *env) serve(method, path, query string, body []byte) response {
	req := httptest.NewRequest(method, "/", bytes.NewReader(body))
	req.URL.Path, req.URL.RawQuery = path, query
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, req)
	out := response{status: w.Code, raw: w.Body.String(), header: w.Header()}
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.UseNumber()
	_ = dec.Decode(&out.body)
	return out
}

// hasMessage reports whether an error answer is JSON with a message: a
// text, or reqparse's object from argument to help.
func hasMessage(r response) bool {
	if !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		return false
	}
	switch m := r.body["message"].(type) {
	case string:
		return m != ""
	case map[string]any:
		return len(m) > 0
	}
	return false
}

// fuzzState is a digest of every row of matching's tables and of what the
// fake neighbours were asked to create.
func (e *env) fuzzState(tb testing.TB) string {
	tb.Helper()
	ctx := context.Background()
	if e.digestSQL == "" {
		rows, err := e.pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'matching_service' ORDER BY 1`)
		if err != nil {
			tb.Fatal(err)
		}
		var parts []string
		for rows.Next() {
			var t string
			_ = rows.Scan(&t)
			parts = append(parts, fmt.Sprintf(
				`(SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM matching_service.%q x)`, t))
		}
		rows.Close()
		e.digestSQL = "SELECT md5(concat_ws('|', " + strings.Join(parts, ", ") + "))"
	}
	var digest string
	if err := e.pool.QueryRow(ctx, e.digestSQL).Scan(&digest); err != nil {
		tb.Fatal(err)
	}
	return fmt.Sprintf("%s emails=%d calls=%d", digest, len(e.fake.Emails()), len(e.fake.PhoneCalls()))
}

// checkReadBack reads back what an accepted write stored, where the API
// promises that a GET shows it as sent.
func (e *env) checkReadBack(t *testing.T, method, pattern, path string, body []byte, r response) {
	t.Helper()
	var sent map[string]json.RawMessage
	_ = json.Unmarshal(body, &sent)
	switch method + " " + pattern {
	case "POST /api/platzsuchen":
		got := e.serve("GET", fmt.Sprintf("/api/platzsuchen/%v", r.body["id"]), "", nil)
		if got.status != 200 || fmt.Sprint(got.body["patient_id"]) != fmt.Sprint(r.body["patient_id"]) {
			t.Fatalf("created %s, read back %d %s", r.raw, got.status, got.raw)
		}
		expectNote(t, sent, got)
	case "PUT /api/platzsuchen/%s":
		got := e.serve("GET", path, "", nil)
		if got.status != 200 {
			t.Fatalf("updated %s, read back %d %s", path, got.status, got.raw)
		}
		expectText(t, sent, "status", got, "status")
		expectText(t, sent, "notizen", got, "notizen")
		if p, ok := sent["prioritaet"]; ok && string(p) != "null" {
			if want := strings.Trim(string(p), `" `); fmt.Sprint(got.body["prioritaet"]) != want {
				t.Fatalf("prioritaet %s sent, %v read back", p, got.body["prioritaet"])
			}
		}
	case "PUT /api/therapeuten/%s/naechster-kontakt":
		got := e.serve("GET", path, "", nil)
		if got.status != 200 || got.raw != r.raw {
			t.Fatalf("PUT answered %s, GET reads %d %s", r.raw, got.status, got.raw)
		}
		expectText(t, sent, "naechster_kontakt_moeglich", got, "naechster_kontakt_moeglich")
		expectText(t, sent, "grund", got, "notiz")
	}
}

// expectNote checks that the notes a new search was given were appended as
// the last line of its notes log, after the API's stamp.
func expectNote(t *testing.T, sent map[string]json.RawMessage, got response) {
	t.Helper()
	want, ok := textArg(sent, "notizen")
	if !ok || want == "" {
		return
	}
	if have, _ := got.body["notizen"].(string); !strings.HasSuffix(have, " (API)] "+want) {
		t.Fatalf("notizen %q sent, %q read back", want, have)
	}
}

// textArg is a text argument as the API reads it: a JSON string, or a
// number taken as its text; absent and null are not given.
func textArg(sent map[string]json.RawMessage, arg string) (string, bool) {
	raw, ok := sent[arg]
	if !ok || string(raw) == "null" {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		s = string(bytes.TrimSpace(raw))
	}
	return s, true
}

// expectText checks that a text argument the API stores (a JSON string, or
// a number taken as its text) reads back unchanged.
func expectText(t *testing.T, sent map[string]json.RawMessage, arg string, got response, field string) {
	t.Helper()
	want, ok := textArg(sent, arg)
	if !ok {
		return
	}
	if have, _ := got.body[field].(string); have != want {
		t.Fatalf("%s %q sent, %s %q read back", arg, want, field, got.body[field])
	}
}
