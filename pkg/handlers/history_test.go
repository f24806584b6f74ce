package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// causes returns the distinct causes of the history rows written after
// history id from (the fixtures' own rows are psql's).
func causes(t testing.TB, pool *pgxpool.Pool, from int64) []map[string]any {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
		SELECT DISTINCT cause::text FROM matching_service.history WHERE id > $1`, from)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var s string
		var c map[string]any
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(s), &c); err != nil {
			t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func lastHistoryID(t testing.TB, pool *pgxpool.Pool) int64 {
	t.Helper()
	return int64(count(t, pool, `SELECT coalesce(max(id), 0)::int FROM matching_service.history`))
}

// Every event handler's changes are recorded with the event as their cause
// (type, dedupe key, source, consumer); the event is logged with its payload
// and the time its handler applied it, which is the clock of what the
// handler wrote; the events it emitted are kept with the same cause. A
// redelivery records nothing more.
func TestEventHandlers_recordTheirEventAsTheCause(t *testing.T) {
	cases := map[string]struct {
		handler  func(*pgxpool.Pool) runtime.Handler
		consumer string
		setup    func(t *testing.T, pool *pgxpool.Pool)
		event    delivery
		emitted  int
	}{
		"patient.deleted": {
			handler:  func(p *pgxpool.Pool) runtime.Handler { return handlers.Patient(p, nil, nil) },
			consumer: handlers.PatientGroup,
			setup:    func(t *testing.T, pool *pgxpool.Pool) { insertSearch(t, pool, 7, "aktiv") },
			event:    typed("patient.deleted", "p-1", `{"patient_id":7}`),
			emitted:  1,
		},
		"therapist.blocked": {
			handler:  func(p *pgxpool.Pool) runtime.Handler { return handlers.Therapist(p, nil, nil) },
			consumer: handlers.TherapistGroup,
			setup: func(t *testing.T, pool *pgxpool.Pool) {
				insertAnfrage(t, pool, anfrage{therapist: 42, searches: []int64{insertSearch(t, pool, 8, "aktiv")}})
			},
			event:   typed("therapist.blocked", "t-1", `{"therapist_id":42,"reason":"moved"}`),
			emitted: 1,
		},
		"email.sent": {
			handler:  func(p *pgxpool.Pool) runtime.Handler { return communication(p) },
			consumer: handlers.CommunicationGroup,
			setup: func(t *testing.T, pool *pgxpool.Pool) {
				emailID := int64(900)
				insertAnfrage(t, pool, anfrage{therapist: 42, sent: true, emailID: &emailID})
			},
			event: typed("email.sent", "e-1", `{"email_id":900}`),
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := storetest.New(t)
			c.setup(t, pool)
			from := lastHistoryID(t, pool)
			h := server(c.handler(pool))
			if code, outcome := send(t, h, c.event); code != 200 || outcome != "processed" {
				t.Fatalf("status %d outcome %q", code, outcome)
			}
			want := []map[string]any{{"kind": "event", "type": name, "dedupe_key": "ce:/test#" + c.event.header["Ce-Id"],
				"source": "/test", "consumer": c.consumer}}
			if d := cmp.Diff(want, causes(t, pool, from)); d != "" {
				t.Errorf("causes of the changes (-want +got):\n%s", d)
			}
			var payload string
			var handled time.Time
			if err := pool.QueryRow(context.Background(), `
				SELECT payload, handled_at FROM matching_service.consumed_events
				WHERE consumer = $1 AND dedupe_key = $2`,
				c.consumer, want[0]["dedupe_key"]).Scan(&payload, &handled); err != nil {
				t.Fatalf("consumed event not logged: %v", err)
			}
			if payload != c.event.body {
				t.Errorf("logged payload %s, want %s", payload, c.event.body)
			}
			// The handler's clock is the logged handling time: the last
			// history row's note or timestamp says the same minute.
			var note string
			if err := pool.QueryRow(context.Background(), `
				SELECT coalesce(after->>'notizen', '') FROM matching_service.history WHERE id > $1 ORDER BY id DESC LIMIT 1`, from).Scan(&note); err != nil {
				t.Fatal(err)
			}
			if stamp := "[" + handled.UTC().Format("2006-01-02 15:04") + " (System)]"; len(note) < len(stamp) || note[:len(stamp)] != stamp {
				t.Errorf("note %q does not begin with the handling time %s", note, stamp)
			}
			emitted := count(t, pool, `SELECT count(*) FROM matching_service.emitted_events
				WHERE cause->>'dedupe_key' = '`+want[0]["dedupe_key"].(string)+`'`)
			if emitted != c.emitted {
				t.Errorf("%d emitted events logged with the event as cause, want %d", emitted, c.emitted)
			}

			// Redelivered: a duplicate, nothing recorded.
			const logged = `SELECT (SELECT count(*) FROM matching_service.consumed_events) + (SELECT count(*) FROM matching_service.emitted_events)`
			histBefore, logBefore := lastHistoryID(t, pool), count(t, pool, logged)
			if _, outcome := send(t, h, c.event); outcome != "duplicate" {
				t.Fatalf("redelivery outcome %q", outcome)
			}
			if lastHistoryID(t, pool) != histBefore || count(t, pool, logged) != logBefore {
				t.Errorf("the redelivery was recorded")
			}
		})
	}
}

// What an event's handler changes after the event's commit (the re-check of
// an unsent anfrage a changed copy asks for) is the event's doing too: the
// history records the event as its cause, marked after_commit, and so does
// the event the re-check emits.
func TestEventHandlers_theRecheckAfterTheCommitIsCausedByTheEvent(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	h := server(handlers.Patient(e.pool, nil, discardLog(), handlers.WithCopy(e.copy)))
	anfrage, first, from := e.anfrageOfAChangedPatient(t)
	if code, _ := send(t, h, typed("patient.updated", "u-1", fmt.Sprintf(`{"patient_id":%d}`, first))); code != 200 {
		t.Fatalf("status %d", code)
	}
	want := []map[string]any{{"kind": "event", "type": "patient.updated", "dedupe_key": "ce:/test#u-1",
		"source": "/test", "consumer": handlers.PatientGroup, "after_commit": true}}
	if d := cmp.Diff(want, causes(t, e.pool, from)); d != "" {
		t.Errorf("causes of the re-check's changes of anfrage %d (-want +got):\n%s", anfrage, d)
	}
	if n := count(t, e.pool, `SELECT count(*) FROM matching_service.emitted_events
		WHERE event_type = 'therapeutenanfrage.composition_changed' AND (cause->>'after_commit')::boolean`); n != 1 {
		t.Errorf("%d composition_changed events caused by the event after its commit, want 1", n)
	}
}

// A directory-sync run is the cause of what it changes: the re-check of an
// unsent anfrage a changed patient asks for is recorded as the job's, with
// the run's id.
func TestDirectorySync_isTheCauseOfTheRechecksItApplies(t *testing.T) {
	t.Parallel()
	e := newCopyEnv(t)
	anfrage, _, from := e.anfrageOfAChangedPatient(t)
	if _, err := handlers.DirectorySync(e.settings, runtime.Deps{Pool: e.pool, Log: discardLog()}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := causes(t, e.pool, from)
	if len(got) != 1 || got[0]["kind"] != "job" || got[0]["job"] != "directory-sync" || got[0]["run_id"] == "" || got[0]["run_id"] == nil {
		t.Errorf("causes of the changes of anfrage %d: %v, want the directory-sync run's", anfrage, got)
	}
}

// anfrageOfAChangedPatient is an unsent anfrage of three copied patients
// whose first now prefers a male therapist at the patient service (the
// anfrage's is female), which a re-check must act on. It returns the
// anfrage, that patient and the last history id before the change.
func (e *copyEnv) anfrageOfAChangedPatient(t *testing.T) (anfrage, first, from int64) {
	t.Helper()
	tid := e.fake.AddTherapist(fake.SampleTherapist(nil))
	first = e.patient(t, nil)
	e.patient(t, nil)
	e.patient(t, nil)
	a, err := e.copy.Placement.CreateAnfrage(context.Background(), placement.NewAnfrage{TherapistID: tid, PLZPrefix: "10"})
	if err != nil {
		t.Fatal(err)
	}
	from = lastHistoryID(t, e.pool)
	e.fake.SetPatientFields(first, map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"})
	return a.Anfrage.ID, first, from
}
