package api_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/runtime"
)

// bodyEndpoint is an endpoint that reads a JSON body, with a valid body as
// raw JSON values per field.
type bodyEndpoint struct {
	method, path string
	fields       map[string]string
}

// body renders fields with field name's value replaced by value (raw JSON);
// dup repeats the field.
func (b bodyEndpoint) body(name, value string, dup bool) string {
	names := make([]string, 0, len(b.fields))
	for n := range b.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		v := b.fields[n]
		if n == name {
			if dup {
				parts = append(parts, fmt.Sprintf("%q:%s", n, v))
			} else {
				v = value
			}
		}
		parts = append(parts, fmt.Sprintf("%q:%s", n, v))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// bodyEndpoints are every endpoint that reads a body, in a state where the
// given body would succeed.
func (e *env) bodyEndpoints() []bodyEndpoint {
	aid, _, patients, searches := e.sentAnfrage(1)
	free := e.patient(nil)
	other, cooled := e.therapist(nil), e.therapist(nil)
	sid, contacted := searches[0], e.search(e.patient(nil))
	return []bodyEndpoint{
		{"POST", "/api/platzsuchen", map[string]string{"patient_id": fmt.Sprint(free), "notizen": `"n"`}},
		{"PUT", fmt.Sprintf("/api/platzsuchen/%d", sid), map[string]string{
			"status": `"pausiert"`, "notizen": `"n"`, "ausgeschlossene_therapeuten": `[1,{"id":2,"reason":"r"}]`}},
		{"POST", fmt.Sprintf("/api/platzsuchen/%d/kontaktanfrage", contacted), map[string]string{"requested_count": "1", "notizen": `"n"`}},
		{"PUT", coolingPath(cooled), map[string]string{"naechster_kontakt_moeglich": `"2030-01-01"`, "grund": `"g"`}},
		{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]string{
			"therapist_id": fmt.Sprint(other), "plz_prefix": `"10"`, "sofort_senden": "false"}},
		{"PUT", antwortPath(aid), map[string]string{
			"patient_responses": fmt.Sprintf(`{"%d":"angenommen"}`, patients[0]), "notizen": `"n"`, "follow_up_required": "false"}},
	}
}

// snapshot is every row of matching's tables, to show that a rejected
// request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	ctx := context.Background()
	rows, err := e.pool.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'matching_service' ORDER BY 1`)
	if err != nil {
		e.t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var t string
		_ = rows.Scan(&t)
		tables = append(tables, t)
	}
	rows.Close()
	var b strings.Builder
	for _, t := range tables {
		b.WriteString(t + ":\n")
		b.WriteString(scalar[string](e, fmt.Sprintf(
			`SELECT coalesce(string_agg(x::text, E'\n' ORDER BY x::text), '') FROM matching_service.%q x`, t)))
		b.WriteString("\n")
	}
	return b.String()
}

// TestBadInput_everyBodyFieldIsCheckedBeforeTheDatabase sends every field of
// every body endpoint, in turn, with each value PostgreSQL cannot store (and
// the field twice): each is a 400 whose message is keyed by that field,
// nothing is stored, no neighbour is asked to create anything, and the body
// shows no database message.
func TestBadInput_everyBodyFieldIsCheckedBeforeTheDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	endpoints := e.bodyEndpoints()
	before := e.snapshot()
	emails, calls := len(e.fake.Emails()), len(e.fake.PhoneCalls())
	bad := map[string]struct{ value, says string }{
		"NUL":               {`"a\u0000b"`, "NUL"},
		"NUL nested":        {`[{"id":1,"r":"\u0000"}]`, "NUL"},
		"lone surrogate":    {`"\ud800"`, "surrogate"},
		"surrogate nested":  {`{"x":["\udfff"]}`, "surrogate"},
		"beyond numeric":    {`1e400000`, "too large"},
		"number nested":     {`[1e400000]`, "too large"},
		"a key in it twice": {`{"1":"angenommen","1":"abgelehnt_Kapazitaet"}`, "twice"},
	}
	for _, ep := range endpoints {
		for field := range ep.fields {
			for name, v := range bad {
				t.Run(ep.method+" "+ep.path+" "+field+" "+name, func(t *testing.T) {
					r := e.do(ep.method, ep.path, ep.body(field, v.value, false))
					expectFieldError(t, r, field, v.says)
				})
			}
			t.Run(ep.method+" "+ep.path+" "+field+" twice", func(t *testing.T) {
				r := e.do(ep.method, ep.path, ep.body(field, "", true))
				expectFieldError(t, r, field, "twice")
			})
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("a rejected request changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if len(e.fake.Emails()) != emails || len(e.fake.PhoneCalls()) != calls {
		t.Error("a rejected request created an email or a phone call")
	}
	// The same bodies, valid, succeed: the 400s above were the values'.
	for _, ep := range endpoints {
		if r := e.do(ep.method, ep.path, ep.body("", "", false)); r.status >= 300 {
			t.Errorf("%s %s with a valid body: %d %s", ep.method, ep.path, r.status, r.raw)
		}
	}
}

// expectFieldError checks a reqparse-style 400 naming field and saying why.
func expectFieldError(t *testing.T, r response, field, says string) {
	t.Helper()
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400: %s", r.status, r.raw)
	}
	msg, ok := r.body["message"].(map[string]any)
	if !ok {
		t.Fatalf("message is not keyed by the argument: %s", r.raw)
	}
	text, _ := msg[field].(string)
	if !strings.Contains(text, says) {
		t.Errorf("message for %s is %q, want it to say %q (%s)", field, text, says, r.raw)
	}
	noDatabaseText(t, r.raw)
}

// noDatabaseText fails when an answer carries PostgreSQL's words.
func noDatabaseText(t *testing.T, body string) {
	t.Helper()
	for _, leak := range []string{"SQLSTATE", "ERROR:", "pq:", "pgx", "violates", "relation ", "column ", "syntax"} {
		if strings.Contains(body, leak) {
			t.Errorf("the answer carries a database message (%q): %s", leak, body)
		}
	}
}

// TestBadInput_integersBeyondTheColumnsAre400 covers every integer argument:
// the list filters in the query string and the ids and counts in bodies. A
// value beyond int4 is the same 400 as one that is not an integer, never a
// database error; page and limit are clamped as before.
func TestBadInput_integersBeyondTheColumnsAre400(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, p := range []struct{ path, param string }{
		{"/api/platzsuchen", "patient_id"},
		{"/api/platzsuchen", "min_anfragen"},
		{"/api/platzsuchen", "max_anfragen"},
		{"/api/therapeutenanfragen", "therapist_id"},
		{"/api/therapeutenanfragen", "min_size"},
		{"/api/therapeutenanfragen", "max_size"},
	} {
		for _, v := range []string{"2147483648", "-2147483649", "99999999999999999999"} {
			r := e.do("GET", p.path+"?"+p.param+"="+v, nil)
			expectFieldError(t, r, p.param, "")
		}
		e.do("GET", p.path+"?"+p.param+"=2147483647", nil).must(t, 200)
	}
	for _, path := range []string{"/api/platzsuchen", "/api/therapeutenanfragen"} {
		r := e.do("GET", path+"?page=2147483648&limit=99999999999", nil, outside("pagination beyond its bounds is clamped")...).must(t, 200)
		if data, _ := r.body["data"].([]any); num(t, r.body["limit"]) != 1000 || len(data) != 0 {
			t.Errorf("%s: limit %v and %d rows, want 1000 and none", path, r.body["limit"], len(data))
		}
		r = e.do("GET", path+"?page=99999999999999999999999&limit=-99999999999999999999", nil, outside("pagination that is no int64 falls back to the defaults")...).must(t, 200)
		if num(t, r.body["limit"]) != 20 || num(t, r.body["page"]) != 1 {
			t.Errorf("%s: page %v limit %v, want the defaults", path, r.body["page"], r.body["limit"])
		}
	}
	sid := e.search(e.patient(nil))
	for _, b := range []struct{ method, path, field string }{
		{"POST", "/api/platzsuchen", "patient_id"},
		{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", "therapist_id"},
		{"POST", fmt.Sprintf("/api/platzsuchen/%d/kontaktanfrage", sid), "requested_count"},
	} {
		r := e.do(b.method, b.path, fmt.Sprintf(`{%q: 2147483648, "plz_prefix": "10"}`, b.field))
		expectFieldError(t, r, b.field, "out of range")
	}
}

// TestBadInput_queryValuesMustBeText: a NUL or a byte that is not UTF-8 in
// any query parameter is a 400 naming it, on every endpoint that reads one.
func TestBadInput_queryValuesMustBeText(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, q := range []struct{ path, param string }{
		{"/api/platzsuchen", "status"},
		{"/api/therapeutenanfragen", "versand_status"},
		{"/api/therapeutenanfragen", "antwort_status"},
		{"/api/therapeuten-zur-auswahl", "plz_prefix"},
	} {
		for _, v := range []string{"a%00b", "%ff"} {
			expectFieldError(t, e.do("GET", q.path+"?"+q.param+"="+v, nil), q.param, "")
		}
	}
}

// TestBadInput_datesPostgreSQLCannotStoreAre400: the only date the API
// reads, the manual cooling date, refuses year 0 (PostgreSQL has none).
func TestBadInput_datesPostgreSQLCannotStoreAre400(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	r := e.do("PUT", coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "0000-01-01"})
	expectFieldError(t, r, "naechster_kontakt_moeglich", "year")
	e.do("PUT", coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "9999-12-31"}).must(t, 200)
	e.do("PUT", coolingPath(tid), map[string]any{"naechster_kontakt_moeglich": "0001-01-01"}).must(t, 200)
}

// TestBadInput_aDuplicateResponseIsRejectedNotLastWins is the reproducer of
// issue 17: {"1":"angenommen","1":"abgelehnt_Kapazitaet"} used to record a
// rejection.
func TestBadInput_aDuplicateResponseIsRejectedNotLastWins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, _, patients, _ := e.sentAnfrage(1)
	p := patients[0]
	r := e.do("PUT", antwortPath(aid), fmt.Sprintf(`{"patient_responses":{"%d":"angenommen","%d":"abgelehnt_Kapazitaet"}}`, p, p))
	expectFieldError(t, r, "patient_responses", "twice")
	if n := scalar[int](e, `SELECT count(*) FROM matching_service.therapeutenanfrage WHERE antwort_datum IS NOT NULL`); n != 0 {
		t.Errorf("%d responses recorded", n)
	}
}

// TestMethodNotAllowed_is405WithAllow: a method a path is not served for is
// a 405 naming the methods that are, as JSON; an unknown path stays 404.
func TestMethodNotAllowed_is405WithAllow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for path, allow := range map[string]string{
		"/api/platzsuchen":                  "GET, HEAD, POST",
		"/api/platzsuchen/1":                "DELETE, GET, HEAD, PUT",
		"/api/therapeutenanfragen/1/senden": "POST",
		"/health":                           "GET, HEAD",
	} {
		r := e.do("PATCH", path, nil)
		if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != allow {
			t.Errorf("PATCH %s: %d Allow %q, want 405 Allow %q", path, r.status, r.header.Get("Allow"), allow)
		}
		if _, ok := r.body["message"].(string); !ok {
			t.Errorf("PATCH %s: body %s", path, r.raw)
		}
	}
	r := e.do("PATCH", "/api/gibtsnicht", nil).must(t, 404)
	if r.header.Get("Allow") != "" {
		t.Errorf("a 404 with Allow %q", r.header.Get("Allow"))
	}
}

// TestDatabaseFailure_answersNeverCarryItsMessage breaks the schema under
// the API (a renamed column, as a bad deployment would) and checks that the
// 500s of a read, a command and the creation of an anfrage (whose reference
// body has an "error" field) say nothing of the database.
func TestDatabaseFailure_answersNeverCarryItsMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tid := e.therapist(nil)
	e.search(e.patient(nil))
	e.exec(`ALTER TABLE matching_service.platzsuche RENAME COLUMN status TO status_renamed`)
	for _, req := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/platzsuchen", nil},
		{"GET", "/api/platzsuchen/1", nil},
		{"POST", "/api/platzsuchen", map[string]any{"patient_id": e.patient(nil)}},
		{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": tid, "plz_prefix": "10"}},
	} {
		r := e.do(req.method, req.path, req.body)
		if r.status != http.StatusInternalServerError {
			t.Errorf("%s %s: %d %s, want 500", req.method, req.path, r.status, r.raw)
		}
		noDatabaseText(t, r.raw)
	}
}

// TestBadInput_aBodyThatNeverArrivesIs408 is issue 17's reproducer
// (Content-Length: 100, four bytes sent): served as the function serves it,
// the API answers 408 once HTTP_READ_TIMEOUT passes, instead of holding the
// connection.
func TestBadInput_aBodyThatNeverArrivesIs408(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	timeouts := config.HTTP{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond, IdleTimeout: time.Second}
	go func() {
		done <- runtime.NewServer(runtime.ServerOptions{Mount: e.api, Timeouts: timeouts}).Serve(ctx, ln)
	}()
	defer func() { cancel(); <-done }()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(c, "POST /api/platzsuchen HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pa")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "not received in time") {
		t.Errorf("%d %s, want 408", resp.StatusCode, body)
	}
}
