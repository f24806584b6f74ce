package api_test

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// therapistSeq gives the therapists of sentAnfrage distinct email addresses.
var therapistSeq atomic.Int64

func antwortPath(id int64) string { return fmt.Sprintf("/api/therapeutenanfragen/%d/antwort", id) }

// sentAnfrage builds and sends an anfrage of n patients to a new therapist
// and returns it, the therapist, and the patients and searches by position.
func (e *env) sentAnfrage(n int) (aid, tid int64, patients, searches []int64) {
	e.t.Helper()
	tid = e.therapist(map[string]any{"email": fmt.Sprintf("t%d@example.org", therapistSeq.Add(1))})
	for range n {
		p := e.patient(nil)
		patients = append(patients, p)
		searches = append(searches, e.search(p))
	}
	aid = e.anfrage(tid, "10")
	e.do("POST", sendPath(aid), nil).must(e.t, 200)
	return aid, tid, patients, searches
}

func TestRecordResponse_everyOutcomeMix(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		outcomes  [3]string
		typ       string
		counts    [3]int64 // accepted, rejected, no response
		rows      [3]string
		completed []int // positions whose search becomes erfolgreich
		excluded  []int // positions whose search excludes the therapist (abgelehnt_nicht_geeignet, nicht_erschienen)
	}{
		{"all accepted", [3]string{"angenommen", "angenommen", "angenommen"}, "vollstaendige_Annahme", [3]int64{3, 0, 0},
			[3]string{"angenommen", "angenommen", "angenommen"}, []int{0, 1, 2}, nil},
		{"partly accepted, one unsuitable", [3]string{"angenommen", "abgelehnt_nicht_geeignet", "abgelehnt_Kapazitaet"}, "teilweise_Annahme", [3]int64{1, 2, 0},
			[3]string{"angenommen", "abgelehnt", "abgelehnt"}, []int{0}, []int{1}},
		{"all rejected", [3]string{"abgelehnt_Kapazitaet", "abgelehnt_sonstiges", "nicht_erschienen"}, "vollstaendige_Ablehnung", [3]int64{0, 3, 0},
			[3]string{"abgelehnt", "abgelehnt", "abgelehnt"}, nil, []int{2}},
		{"in sessions counts as accepted", [3]string{"in_Sitzungen", "nicht_erschienen", "abgelehnt_nicht_geeignet"}, "teilweise_Annahme", [3]int64{1, 2, 0},
			[3]string{"angenommen", "abgelehnt", "abgelehnt"}, []int{0}, []int{1, 2}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			aid, tid, patients, searches := e.sentAnfrage(3)
			// The first search was paused meanwhile: an acceptance completes it too.
			e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", searches[0]), map[string]any{"status": "pausiert"}).must(t, 200)
			before := len(e.events())
			e.setNow(testNow.Add(48 * time.Hour))

			responses := map[string]any{}
			for i, p := range patients {
				responses[fmt.Sprint(p)] = tc.outcomes[i]
			}
			r := e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": responses, "notizen": "per Telefon"}).must(t, 200)
			accepted := []any{}
			for _, i := range tc.completed {
				accepted = append(accepted, map[string]any{"patient_id": jsonNum(patients[i]), "platzsuche_id": jsonNum(searches[i])})
			}
			want := map[string]any{
				"message": "Anfrage response recorded successfully", "anfrage_id": jsonNum(aid), "response_type": tc.typ,
				"angenommene_patienten":   accepted,
				"antwort_zusammenfassung": map[string]any{"accepted": jsonNum(tc.counts[0]), "rejected": jsonNum(tc.counts[1]), "no_response": jsonNum(tc.counts[2])},
			}
			if d := cmp.Diff(want, r.body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}

			d := e.do("GET", fmt.Sprintf("/api/therapeutenanfragen/%d", aid), nil).must(t, 200)
			if d.body["antworttyp"] != tc.typ || d.body["antwort_datum"] != "2025-08-14T10:00:00.123456" {
				t.Errorf("antworttyp %v antwort_datum %v", d.body["antworttyp"], d.body["antwort_datum"])
			}
			if d.body["notizen"] != "[2025-08-14 10:00] per Telefon" {
				t.Errorf("notizen %q", d.body["notizen"])
			}
			sum := d.body["antwort_zusammenfassung"].(map[string]any)
			got := [3]int64{num(t, sum["total_accepted"]), num(t, sum["total_rejected"]), num(t, sum["total_no_response"])}
			if got != tc.counts || got[0]+got[1]+got[2] != 3 || sum["antwort_vollstaendig"] != true {
				t.Errorf("summary %v", sum)
			}
			for i, p := range d.body["patients"].([]any) {
				if st := p.(map[string]any)["status"]; st != tc.rows[i] {
					t.Errorf("row %d status %v, want %s", i, st, tc.rows[i])
				}
			}

			wantEvents := []outboxEvent{
				{Type: "therapeutenanfrage.response_received", Key: fmt.Sprint(aid), Payload: map[string]any{
					"anfrage_id": jsonNum(aid), "response_type": tc.typ,
					"accepted_count": jsonNum(tc.counts[0]), "rejected_count": jsonNum(tc.counts[1]), "no_response_count": jsonNum(tc.counts[2])}},
				{Type: "cooling.period_started", Key: fmt.Sprint(tid), Payload: map[string]any{
					"therapist_id": jsonNum(tid), "next_contactable_date": "2025-09-11", "reason": "response_received"}},
			}
			for _, i := range tc.completed {
				old := "aktiv"
				if i == 0 {
					old = "pausiert"
				}
				wantEvents = append(wantEvents, outboxEvent{Type: "search.status_changed", Key: fmt.Sprint(searches[i]), Payload: map[string]any{
					"search_id": jsonNum(searches[i]), "patient_id": jsonNum(patients[i]), "old_status": old, "new_status": "erfolgreich"}})
			}
			if d := cmp.Diff(wantEvents, e.eventsSince(before), cmpIgnoreID); d != "" {
				t.Errorf("events (-want +got):\n%s", d)
			}

			for i, sid := range searches {
				var status string
				var success *time.Time
				var excl []byte
				if err := e.pool.QueryRow(t.Context(), `SELECT status::text, erfolgreiche_vermittlung_datum, ausgeschlossene_therapeuten
					FROM matching_service.platzsuche WHERE id = $1`, sid).Scan(&status, &success, &excl); err != nil {
					t.Fatal(err)
				}
				completed := contains(tc.completed, i)
				if completed != (status == "erfolgreich") || completed != (success != nil) {
					t.Errorf("search %d: status %s, erfolgreiche_vermittlung_datum %v", i, status, success)
				}
				var list []map[string]any
				_ = json.Unmarshal(excl, &list)
				if contains(tc.excluded, i) {
					want := []map[string]any{{"id": float64(tid), "excluded_at": "2025-08-14T10:00:00.123456", "reason": "Rejected: " + tc.outcomes[i]}}
					if d := cmp.Diff(want, list); d != "" {
						t.Errorf("search %d exclusions (-want +got):\n%s", i, d)
					}
				} else if len(list) != 0 {
					t.Errorf("search %d exclusions %s", i, excl)
				}
			}
			if got := scalar[string](e, `SELECT to_char(naechster_kontakt_moeglich, 'YYYY-MM-DD') || ' ' || grund FROM matching_service.therapeut_kontaktsperre WHERE therapist_id = $1`, tid); got != "2025-09-11 response_received" {
				t.Errorf("cooling row %q", got)
			}
			// The therapist is now cooling: no new anfrage.
			e.search(e.patient(nil))
			e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"}).must(t, 409)
		})
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestRecordResponse_repeatIsIdempotentAndADifferentOneIs409(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, _, patients, _ := e.sentAnfrage(2)
	body := map[string]any{"patient_responses": map[string]any{fmt.Sprint(patients[0]): "angenommen", fmt.Sprint(patients[1]): "abgelehnt_Kapazitaet"}}
	first := e.do("PUT", antwortPath(aid), body).must(t, 200)
	n := len(e.events())

	e.setNow(testNow.Add(time.Hour))
	again := e.do("PUT", antwortPath(aid), body).must(t, 200)
	if d := cmp.Diff(first.body, again.body); d != "" {
		t.Errorf("repeat answered differently (-first +repeat):\n%s", d)
	}
	r := e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": map[string]any{
		fmt.Sprint(patients[0]): "angenommen", fmt.Sprint(patients[1]): "angenommen"}}).must(t, 409)
	if r.body["message"] != fmt.Sprintf("Response already recorded for anfrage %d", aid) {
		t.Errorf("message %v", r.body["message"])
	}
	if got := len(e.events()); got != n {
		t.Errorf("repeat and conflict emitted %d events", got-n)
	}
	if got := scalar[time.Time](e, `SELECT antwort_datum FROM matching_service.therapeutenanfrage WHERE id = $1`, aid); !got.Equal(testNow) {
		t.Errorf("antwort_datum moved to %v", got)
	}
}

func TestRecordResponse_existingExclusionIsNotDuplicated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, tid, patients, searches := e.sentAnfrage(1)
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", searches[0]), map[string]any{"ausgeschlossene_therapeuten": []any{tid, 5}}).must(t, 200)
	e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": map[string]any{fmt.Sprint(patients[0]): "abgelehnt_nicht_geeignet"}}).must(t, 200)
	got := scalar[string](e, `SELECT ausgeschlossene_therapeuten::text FROM matching_service.platzsuche WHERE id = $1`, searches[0])
	if got != fmt.Sprintf("[%d, 5]", tid) {
		t.Errorf("exclusions %s", got)
	}
}

func TestRecordResponse_errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, _, patients, _ := e.sentAnfrage(2)
	tid := e.therapist(map[string]any{"email": "unsent@example.org"})
	e.search(e.patient(nil))
	unsent := e.anfrage(tid, "10")
	p0, p1 := fmt.Sprint(patients[0]), fmt.Sprint(patients[1])
	validOutcomes := []any{"angenommen", "abgelehnt_Kapazitaet", "abgelehnt_nicht_geeignet", "abgelehnt_sonstiges", "nicht_erschienen", "in_Sitzungen"}
	before := len(e.events())

	cases := map[string]struct {
		id     int64
		body   any
		status int
		want   map[string]any
	}{
		"unknown anfrage": {4711, map[string]any{"patient_responses": map[string]any{}}, 404, map[string]any{"message": "Anfrage 4711 not found"}},
		"unsent":          {unsent, map[string]any{"patient_responses": map[string]any{}}, 400, map[string]any{"message": "Cannot record response for unsent anfrage"}},
		"missing responses argument": {aid, map[string]any{"notizen": "x"}, 400,
			map[string]any{"message": map[string]any{"patient_responses": missingHelp}}},
		"unknown outcome": {aid, map[string]any{"patient_responses": map[string]any{p0: "angenommen", p1: "vielleicht"}}, 400,
			map[string]any{"message": fmt.Sprintf("Invalid patient response: %s -> vielleicht", p1), "valid_outcomes": validOutcomes}},
		"key not an id": {aid, `{"patient_responses": {"abc": "angenommen"}}`, 400,
			map[string]any{"message": "Invalid patient response: abc -> angenommen", "valid_outcomes": validOutcomes}},
		"missing patient": {aid, map[string]any{"patient_responses": map[string]any{p0: "angenommen"}}, 400,
			map[string]any{"message": "Missing responses for some patients", "missing_patient_ids": []any{jsonNum(patients[1])}}},
		"extra patient": {aid, map[string]any{"patient_responses": map[string]any{p0: "angenommen", p1: "angenommen", "99999": "angenommen"}}, 400,
			map[string]any{"message": "Responses provided for patients not in anfrage", "extra_patient_ids": []any{jsonNum(99999)}}},
		"malformed": {aid, `{"patient_responses": {`, 400, map[string]any{"message": "Invalid JSON body"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := e.do("PUT", antwortPath(tc.id), tc.body).must(t, tc.status)
			if d := cmp.Diff(tc.want, r.body); d != "" {
				t.Errorf("body (-want +got):\n%s", d)
			}
		})
	}
	if evs := e.eventsSince(before); len(evs) != 0 {
		t.Errorf("failed responses emitted %+v", evs)
	}
	if n := scalar[int64](e, `SELECT count(*) FROM matching_service.therapeut_kontaktsperre`); n != 0 {
		t.Errorf("%d cooling rows after failed responses", n)
	}
}
