package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

func analysePath(id int64) string {
	return fmt.Sprintf("/api/therapeutenanfragen/%d/antwort-analyse", id)
}

func vorschlagPath(id int64) string {
	return fmt.Sprintf("/api/therapeutenanfragen/%d/antwort-vorschlag", id)
}

// repliedAnfrage is a sent anfrage to a new therapist with a man (Person 1)
// and a woman (Person 2), both 35 with the sample's symptoms.
func (e *env) repliedAnfrage() (aid int64, man, woman int64) {
	e.t.Helper()
	tid := e.therapist(map[string]any{"email": fmt.Sprintf("t%d@example.org", therapistSeq.Add(1))})
	man = e.patient(nil)
	woman = e.patient(map[string]any{"geschlecht": "weiblich", "anrede": "Frau"})
	e.search(man)
	e.search(woman)
	aid = e.anfrage(tid, "10")
	e.do("POST", sendPath(aid), nil).must(e.t, 200)
	return aid, man, woman
}

// reply handles a reply to email emailID as communication-events does: in
// one transaction with its outbox rows.
func (e *env) reply(emailID int64, subject, body string) placement.ReplyReceived {
	e.t.Helper()
	uc := placement.New(placement.Config{Pool: e.pool, Matching: config.Matching{CoolingPeriodWeeks: 4, Timezone: "Europe/Berlin"}})
	var res placement.ReplyReceived
	err := store.WithTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var out []events.Outgoing
		var err error
		res, out, err = uc.ReceiveReply(context.Background(), tx, placement.Reply{EmailID: emailID, Subject: subject, Body: body}, testNow)
		if err != nil {
			return err
		}
		_, err = outbox.Add(context.Background(), tx, out...)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

const decidingReply = "Guten Tag,\n\ndie Patientin kann ich gern aufnehmen. Für den Herrn habe ich leider keinen freien Platz.\n\nMit freundlichen Grüßen\nDr. Musterfrau"

// A clerk pastes a reply that came another way: the answer is the
// suggestion exactly as specified, read against the people the letter
// showed (here by gender), and nothing changes.
func TestAnalyseReply_suggestsAndChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, man, woman := e.repliedAnfrage()
	before := len(e.events())

	r := e.do("POST", analysePath(aid), map[string]any{"subject": "AW: Suche Psychotherapieplätze", "body": decidingReply}).must(t, 200)
	want := map[string]any{
		"anfrage_id":           jsonNum(aid),
		"patient_responses":    map[string]any{fmt.Sprint(man): "abgelehnt_Kapazitaet", fmt.Sprint(woman): "angenommen"},
		"unklar":               []any{},
		"automatisch":          true,
		"automatische_antwort": false,
		"belege": map[string]any{
			fmt.Sprint(man):   "Für den Herrn habe ich leider keinen freien Platz.",
			fmt.Sprint(woman): "die Patientin kann ich gern aufnehmen.",
		},
	}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("suggestion (-want +got):\n%s", d)
	}
	if n := len(e.events()); n != before {
		t.Errorf("%d events emitted", n-before)
	}
	if n := scalar[int64](e, `SELECT count(*) FROM matching_service.antwort_vorschlag`) +
		scalar[int64](e, `SELECT count(*) FROM matching_service.therapeut_anfrage_patient WHERE antwortergebnis IS NOT NULL`); n != 0 {
		t.Errorf("%d rows changed", n)
	}

	// An out-of-office reply decides nobody; the patients the man's sentence
	// names are in unklar; a reply to an answered anfrage is not automatic.
	r = e.do("POST", analysePath(aid), map[string]any{"subject": "Automatische Antwort: Suche Psychotherapieplätze",
		"body": "Ich bin bis 30.9. nicht in der Praxis und lese keine E-Mails."}).must(t, 200)
	want = map[string]any{"anfrage_id": jsonNum(aid), "patient_responses": map[string]any{},
		"unklar": []any{jsonNum(man), jsonNum(woman)}, "automatisch": false, "automatische_antwort": true, "belege": map[string]any{}}
	if d := cmp.Diff(want, r.body); d != "" {
		t.Errorf("automatic reply (-want +got):\n%s", d)
	}
	e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": map[string]any{
		fmt.Sprint(man): "abgelehnt_Kapazitaet", fmt.Sprint(woman): "angenommen"}}).must(t, 200)
	r = e.do("POST", analysePath(aid), map[string]any{"body": decidingReply}).must(t, 200)
	if r.body["automatisch"] != false || len(r.body["patient_responses"].(map[string]any)) != 2 {
		t.Errorf("after a response: %s", r.raw)
	}
}

func TestAnalyseReply_errors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *api.Config) { c.Tokens = []string{"alpha"} })
	auth := []string{"Authorization", "Bearer alpha"}
	tid := e.therapist(map[string]any{"email": "x@example.org"})
	e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": e.patient(nil)}, auth...).must(t, 201)
	r := e.do("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": tid, "plz_prefix": "10"}, auth...).must(t, 201)
	aid := num(t, r.body["anfrage_id"])
	e.do("POST", analysePath(aid), map[string]any{"body": "Ja"}).must(t, 401)
	r = e.do("POST", analysePath(aid+1), map[string]any{"body": "Ja"}, auth...).must(t, 404)
	if r.body["message"] != fmt.Sprintf("Anfrage %d not found", aid+1) {
		t.Errorf("unknown anfrage: %s", r.raw)
	}
	r = e.do("POST", analysePath(aid), map[string]any{"subject": "AW"}, auth...).must(t, 400)
	if d := cmp.Diff(map[string]any{"body": "Missing required parameter in the JSON body or the post body or the query string"}, r.body["message"]); d != "" {
		t.Errorf("missing body: %s", r.raw)
	}
	if r := e.do("POST", analysePath(aid), `{"body": "Ja"`, auth...).must(t, 400); r.body["message"] != "Invalid JSON body" {
		t.Errorf("bad JSON: %s", r.raw)
	}
	e.do("POST", analysePath(aid), `{"body": "`+strings.Repeat("x", 1<<20)+`"}`, auth...).must(t, 413)
	e.do("GET", vorschlagPath(aid), nil).must(t, 401)
	e.do("GET", "/api/antwort-vorschlaege", nil).must(t, 401)
}

// The replies communication-events received are stored: the last one per
// anfrage, and the review list with the unassigned ones, by status. A
// clerk's response settles the anfrage's open replies.
func TestReplySuggestions_storedLastPerAnfrageAndListedForReview(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, man, woman := e.repliedAnfrage()
	e.do("GET", vorschlagPath(aid+1), nil).must(t, 404)
	if r := e.do("GET", vorschlagPath(aid), nil).must(t, 404); r.body["message"] != fmt.Sprintf("No reply suggestion for anfrage %d", aid) {
		t.Errorf("no reply yet: %s", r.raw)
	}
	emailID := scalar[int64](e, `SELECT email_id FROM matching_service.therapeutenanfrage WHERE id = $1`, aid)
	e.reply(emailID, "AW: Suche Psychotherapieplätze", "Die Patientin nehme ich gern. Zum Herrn melde ich mich nächste Woche.")
	e.reply(9999, "Anfrage", "Gern nehme ich alle auf.")

	r := e.do("GET", vorschlagPath(aid), nil).must(t, 200)
	for k, v := range map[string]any{
		"anfrage_id": jsonNum(aid), "status": "offen", "grund": "unklar", "automatisch": false,
		"patient_responses": map[string]any{fmt.Sprint(woman): "angenommen"}, "unklar": []any{jsonNum(man)},
		"email_id": jsonNum(emailID), "betreff": "AW: Suche Psychotherapieplätze", "uebernommen_am": nil,
		"erstellt_am": "2025-08-12T10:00:00.123456",
	} {
		if d := cmp.Diff(v, r.body[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}

	list := func(query string, want ...any) {
		t.Helper()
		r := e.do("GET", "/api/antwort-vorschlaege"+query, nil).must(t, 200)
		var got []any
		for _, item := range r.body["data"].([]any) {
			got = append(got, item.(map[string]any)["anfrage_id"])
		}
		if d := cmp.Diff(want, got); d != "" || r.body["total"] != jsonNum(int64(len(want))) {
			t.Errorf("%s: anfragen (-want +got):\n%s total %v", query, d, r.body["total"])
		}
	}
	list("?status=offen", jsonNum(aid), nil)
	list("?status=uebernommen")
	e.do("PUT", antwortPath(aid), map[string]any{"patient_responses": map[string]any{
		fmt.Sprint(man): "abgelehnt_Kapazitaet", fmt.Sprint(woman): "angenommen"}}).must(t, 200)
	list("?status=offen", nil)
	list("?status=uebernommen", jsonNum(aid))
	list("", jsonNum(aid), nil)
	if r := e.do("GET", "/api/antwort-vorschlaege?limit=1&page=2", nil).must(t, 200); r.body["total"] != jsonNum(2) ||
		len(r.body["data"].([]any)) != 1 || r.body["data"].([]any)[0].(map[string]any)["anfrage_id"] != nil {
		t.Errorf("page 2 of 1: %s", r.raw)
	}
	if r := e.do("GET", "/api/antwort-vorschlaege?status=neu", nil).must(t, 400); r.body["message"] != "Invalid status. Use 'offen' or 'uebernommen'" {
		t.Errorf("bad status: %s", r.raw)
	}
	if r := e.do("GET", vorschlagPath(aid), nil).must(t, 200); r.body["status"] != "uebernommen" || r.body["uebernommen_am"] == nil {
		t.Errorf("after the response: %s", r.raw)
	}
}
