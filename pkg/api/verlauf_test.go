package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
)

// A request carries the caller's X-Request-Id back, or a new one when it
// sent none or one that cannot be used as is.
func TestRequestID_givenOrMadeAndAnsweredBack(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if got := e.do("GET", "/api/platzsuchen", nil, "X-Request-Id", "trace-42").header.Get("X-Request-Id"); got != "trace-42" {
		t.Errorf("given id answered as %q", got)
	}
	made := regexp.MustCompile(`^[0-9a-f]{32}$`)
	for name, given := range map[string]string{"none": "", "with a space": "a b", "too long": strings.Repeat("x", 129)} {
		got := e.do("GET", "/api/platzsuchen/999", nil, "X-Request-Id", given).header.Get("X-Request-Id")
		if !made.MatchString(got) {
			t.Errorf("%s: answered id %q, want a new one", name, got)
		}
	}
}

// historyCauses returns the causes recorded for the changes of search id,
// in write order.
func (e *env) historyCauses(search int64) []map[string]any {
	e.t.Helper()
	raw := scalar[[]string](e, `SELECT coalesce(array_agg(cause::text ORDER BY id), '{}') FROM matching_service.history WHERE platzsuche_id = $1`, search)
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal([]byte(r), &out[i]); err != nil {
			e.t.Fatal(err)
		}
	}
	return out
}

// A change made through the API records the request as its cause: method,
// path, request id and the name of the token (named in API_TOKENS, or a
// bare token named by its hash).
func TestAPIChanges_recordTheRequestAndTheTokensName(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Tokens = []string{"ops-team:s3cret", "legacy"} })
	pid := e.patient(nil)
	r := e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": pid}, "Authorization", "Bearer s3cret", "X-Request-Id", "r-1").must(t, 201)
	id := num(t, r.body["id"])
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", id), map[string]any{"status": "pausiert"}, "Authorization", "Bearer legacy").must(t, 200)

	got := e.historyCauses(id)
	if len(got) != 2 {
		t.Fatalf("causes %v, want two", got)
	}
	wantFirst := map[string]any{"kind": "api", "method": "POST", "path": "/api/platzsuchen", "request_id": "r-1", "token": "ops-team"}
	if d := cmp.Diff(wantFirst, got[0]); d != "" {
		t.Errorf("creation's cause (-want +got):\n%s", d)
	}
	if got[1]["path"] != fmt.Sprintf("/api/platzsuchen/%d", id) || got[1]["method"] != "PUT" ||
		!regexp.MustCompile(`^token-[0-9a-f]{8}$`).MatchString(fmt.Sprint(got[1]["token"])) {
		t.Errorf("change's cause %v, want the PUT with the bare token's hash name", got[1])
	}
}

// deliver applies a consumed event the way the patient consumer does.
func (e *env) deliver(eventType, id, payload string) {
	e.t.Helper()
	ev := cloudevents.NewEvent()
	ev.SetID(id)
	ev.SetSource("/test")
	ev.SetType(eventType)
	if err := ev.SetData(cloudevents.ApplicationJSON, json.RawMessage(payload)); err != nil {
		e.t.Fatal(err)
	}
	if _, outcome, err := handlers.Patient(e.pool, nil, nil).Handle(context.Background(), ev); err != nil || outcome != "processed" {
		e.t.Fatalf("deliver %s: %s, %v", eventType, outcome, err)
	}
}

// The timeline of a search, oldest first: its creation, change and
// cancellation with what changed and why, the events it emitted, and the
// consumed event that cancelled it; a deleted search's timeline stays.
func TestVerlauf_timelineOfASearch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid := e.patient(nil)
	id := e.search(pid)
	e.do("PUT", fmt.Sprintf("/api/platzsuchen/%d", id), map[string]any{"status": "pausiert", "notizen": "im Urlaub"}, "X-Request-Id", "r-2").must(t, 200)
	e.deliver("patient.deleted", "p-1", fmt.Sprintf(`{"patient_id":%d}`, pid))
	e.do("DELETE", fmt.Sprintf("/api/platzsuchen/%d", id), nil).must(t, 200)

	r := e.do("GET", fmt.Sprintf("/api/verlauf?platzsuche_id=%d", id), nil).must(t, 200)
	type item struct{ Kind, What, Why string }
	var got []item
	for _, x := range r.body["data"].([]any) {
		m := x.(map[string]any)
		switch m["kind"] {
		case "change":
			cause := m["cause"].(map[string]any)
			why := fmt.Sprint(cause["kind"], " ", cause["method"])
			if cause["kind"] == "event" {
				why = fmt.Sprint("event ", cause["type"])
			}
			changes := m["changes"].(map[string]any)
			what := fmt.Sprint(m["table"], " ", m["operation"])
			if st, ok := changes["status"].(map[string]any); ok && m["operation"] != "DELETE" {
				what += fmt.Sprint(" status ", st["before"], "→", st["after"])
			}
			got = append(got, item{"change", what, why})
		case "event":
			got = append(got, item{"event", fmt.Sprint(m["direction"], " ", m["type"]), ""})
		}
	}
	want := []item{
		{"change", "platzsuche INSERT status <nil>→aktiv", "api POST"},
		{"event", "emitted search.status_changed", ""},
		{"change", "platzsuche UPDATE status aktiv→pausiert", "api PUT"},
		{"change", "platzsuche UPDATE", "api PUT"}, // the notes, in a statement of their own
		{"event", "emitted search.status_changed", ""},
		{"event", "consumed patient.deleted", ""},
		{"change", "platzsuche UPDATE status pausiert→abgebrochen", "event patient.deleted"},
		{"event", "emitted search.status_changed", ""},
		{"change", "platzsuche DELETE", "api DELETE"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("timeline (-want +got):\n%s", d)
	}
	if num(t, r.body["total"]) != int64(len(want)) {
		t.Errorf("total %v", r.body["total"])
	}
	// The PUT's changes name its request and what they changed.
	notes := r.body["data"].([]any)[3].(map[string]any)
	wantNotes := map[string]any{"notizen": map[string]any{"before": nil, "after": "im Urlaub"}}
	if notes["cause"].(map[string]any)["request_id"] != "r-2" || !cmp.Equal(wantNotes, notes["changes"]) {
		t.Errorf("PUT's notes change %v", notes)
	}
	// A deletion shows what was deleted.
	if del := r.body["data"].([]any)[8].(map[string]any)["changes"].(map[string]any); del["notizen"] == nil || del["patient_id"] == nil {
		t.Errorf("deletion's changes %v", del)
	}
	// Paged like the other lists.
	page := e.do("GET", fmt.Sprintf("/api/verlauf?platzsuche_id=%d&page=2&limit=3", id), nil).must(t, 200)
	if data := page.body["data"].([]any); len(data) != 3 || data[2].(map[string]any)["type"] != "patient.deleted" {
		t.Errorf("page 2 of 3: %v", data)
	}
	// The patient's timeline holds the same search.
	if p := e.do("GET", fmt.Sprintf("/api/verlauf?patient_id=%d", pid), nil).must(t, 200); num(t, p.body["total"]) != int64(len(want)) {
		t.Errorf("patient's timeline has %v items", p.body["total"])
	}
}

func TestVerlauf_errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, q := range []string{"", "?platzsuche_id=1&anfrage_id=2", "?page=2"} {
		r := e.do("GET", "/api/verlauf"+q, nil).must(t, 400)
		if r.body["message"] != "Give exactly one of platzsuche_id, anfrage_id, patient_id and therapist_id" {
			t.Errorf("%q: %v", q, r.body)
		}
	}
	r := e.do("GET", "/api/verlauf?therapist_id=x", nil).must(t, 400)
	if d := cmp.Diff(map[string]any{"message": map[string]any{"therapist_id": "invalid literal for int() with base 10: 'x'"}}, r.body); d != "" {
		t.Errorf("bad id (-want +got):\n%s", d)
	}
	if r := e.do("GET", "/api/verlauf?anfrage_id=77", nil).must(t, 200); num(t, r.body["total"]) != 0 {
		t.Errorf("unknown anfrage: %v", r.body)
	}
}

// stand is an instant between two requests, as ?stand= takes it; the API's
// clock is set to it, so that the days it counts are those of the instant.
func (e *env) stand() (string, time.Time) {
	time.Sleep(2 * time.Millisecond)
	now := time.Now().UTC()
	e.setNow(now)
	time.Sleep(2 * time.Millisecond)
	return url.QueryEscape(now.Format(time.RFC3339Nano)), now
}

// ?stand= answers the same JSON as the detail read gave at that instant:
// 404 before the search or anfrage existed, its state between and after
// changes, 400 for a timestamp that is not RFC 3339.
func TestStand_searchAndAnfrageAsTheyWere(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setNow(time.Now().UTC())
	beforeAll, _ := e.stand()
	aid, _, _, searches := e.sentAnfrage(2)
	sPath, aPath := fmt.Sprintf("/api/platzsuchen/%d", searches[0]), fmt.Sprintf("/api/therapeutenanfragen/%d", aid)

	sent, _ := e.stand()
	liveSearch := e.do("GET", sPath, nil).must(t, 200).body
	liveAnfrage := e.do("GET", aPath, nil).must(t, 200).body
	e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": map[string]any{
		fmt.Sprint(liveAnfrage["patients"].([]any)[0].(map[string]any)["patient_id"]): "angenommen",
		fmt.Sprint(liveAnfrage["patients"].([]any)[1].(map[string]any)["patient_id"]): "abgelehnt_Kapazitaet",
	}}).must(t, 200)
	answered, answeredAt := e.stand()
	answeredSearch := e.do("GET", sPath, nil).must(t, 200).body
	answeredAnfrage := e.do("GET", aPath, nil).must(t, 200).body
	e.do("DELETE", sPath, nil).must(t, 200)

	for _, p := range []string{sPath, aPath} {
		r := e.do("GET", p+"?stand="+beforeAll, nil).must(t, 404)
		if !strings.Contains(fmt.Sprint(r.body["message"]), "did not exist at") {
			t.Errorf("%s before creation: %v", p, r.body)
		}
	}
	for name, c := range map[string]struct {
		path, stand string
		want        map[string]any
	}{
		"search when sent":      {sPath, sent, liveSearch},
		"anfrage when sent":     {aPath, sent, liveAnfrage},
		"search when answered":  {sPath, answered, answeredSearch},
		"anfrage when answered": {aPath, answered, answeredAnfrage},
	} {
		e.setNow(answeredAt) // the API's clock does not matter for ?stand=
		if d := cmp.Diff(c.want, e.do("GET", c.path+"?stand="+c.stand, nil).must(t, 200).body); d != "" {
			t.Errorf("%s (-live then +?stand=):\n%s", name, d)
		}
	}
	// The search is gone now; the anfrage shows its remaining patient.
	e.do("GET", sPath, nil).must(t, 404)
	now, _ := e.stand()
	if r := e.do("GET", aPath+"?stand="+now, nil).must(t, 200); len(r.body["patients"].([]any)) != 1 {
		t.Errorf("anfrage now: %v", r.body["patients"])
	}
	for _, bad := range []string{"yesterday", "2025-08-12", "2025-08-12T10:00:00"} {
		r := e.do("GET", sPath+"?stand="+url.QueryEscape(bad), nil).must(t, 400)
		if !strings.Contains(fmt.Sprint(r.body["message"]), "RFC 3339") {
			t.Errorf("stand=%s: %v", bad, r.body)
		}
	}
}
