package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/fault"
)

// FuzzRequestDecoding runs every reader of request bodies and query
// strings on any bytes, without a database (FuzzAPIRequest is the
// end-to-end target; this one reaches far more inputs per second). A reader
// either returns a value or an error the API answers 400 with a JSON
// message; pagination stays within its bounds; a timestamp it accepts
// reads the same when written back.
func FuzzRequestDecoding(f *testing.F) {
	for _, s := range []struct{ body, query string }{
		{`{"patient_id":12,"notizen":"Abends"}`, "status=aktiv&page=2&limit=50"},
		{`{"patient_id":"12"}`, "patient_id=3&min_anfragen=0&max_anfragen=2"},
		{`{"therapist_id":5,"plz_prefix":"10","sofort_senden":"true"}`, "plz_prefix=10"},
		{`{"status":"pausiert","ausgeschlossene_therapeuten":[1,{"id":2,"reason":"r"}],"prioritaet":-4}`, "stand=2025-08-12T10:00:00.123456+02:00"},
		{`{"requested_count":1e2}`, "page=-1&limit=100000"},
		{`{"naechster_kontakt_moeglich":"2025-10-01","grund":"Urlaub"}`, "nachverfolgung_erforderlich=1&min_size=1&max_size=6"},
		{`{"patient_responses":{"501":"angenommen","502":"abgelehnt_Kapazitaet"},"follow_up_required":0}`, "therapist_id=2147483648"},
		{`{"subject":"AW: Ref: A12","body":"Person 1 nehme ich gerne."}`, "platzsuche_id=1&anfrage_id=2"},
		{`{"a":"\u0000","a":1}`, "x=%00&%ff=1"},
		{`{"n":1e400000}`, "stand=2025-08-12T10:00:00"},
		{`[1]`, ""},
		{"", ""},
	} {
		f.Add([]byte(s.body), s.query)
	}
	srv := &Server{log: slog.New(slog.DiscardHandler)}
	f.Fuzz(func(t *testing.T, data []byte, rawQuery string) {
		request := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(data))
			r.URL.RawQuery = rawQuery
			return r
		}
		check := func(what string, err error) {
			t.Helper()
			if err == nil {
				return
			}
			w := httptest.NewRecorder()
			if code := srv.writeError(w, request(), err); code != http.StatusBadRequest {
				t.Fatalf("%s: %v answered %d, want 400", what, err, code)
			}
			var body map[string]any
			if json.Unmarshal(w.Body.Bytes(), &body) != nil || body["message"] == nil || body["message"] == "" {
				t.Fatalf("%s: answer %q has no JSON message", what, w.Body)
			}
		}

		// Each body reader on a body of its own, so that each runs whatever
		// the others found.
		readers := map[string]func(b *body){
			"requiredInt": func(b *body) { b.requiredInt("patient_id") },
			"str":         func(b *body) { b.str("notizen") },
			"requiredStr": func(b *body) { b.requiredStr("plz_prefix") },
			"boolean":     func(b *body) { b.boolean("sofort_senden", false) },
			"priority":    func(b *body) { priorityArg(b) },
			"responses": func(b *body) {
				raw := b.required("patient_responses")
				if b.err() != nil {
					return
				}
				entries, err := parseResponses(raw)
				check("parseResponses", err)
				for _, e := range entries {
					_, err := e.outcome()
					check("outcome", err)
				}
			},
		}
		for name, read := range readers {
			b := readBody(request())
			read(b)
			check(name, b.err())
		}
		if _, err := parseResponses(data); err != nil {
			check("parseResponses of the body", err)
		}

		q := readQuery(request())
		q.integer("patient_id")
		q.count("min_size")
		q.boolean("nachverfolgung_erforderlich")
		stand := q.instant("stand")
		check("query", q.err())
		if stand != nil {
			again, err := time.Parse(time.RFC3339Nano, stand.Format(time.RFC3339Nano))
			if err != nil || !again.Equal(*stand) {
				t.Fatalf("stand %v written back reads %v, %v", stand, again, err)
			}
		}
		page, limit := q.pagination()
		if page < 1 || limit < 1 || limit > maxLimit {
			t.Fatalf("page %d, limit %d", page, limit)
		}
		if o := offset(page, limit); o < 0 || o > math.MaxInt32 {
			t.Fatalf("offset %d of page %d, limit %d", o, page, limit)
		}
		if fe := fault.As(q.err()); q.err() != nil && fe == nil {
			t.Fatalf("query error %v is no fault", q.err())
		}
	})
}
