package handlers_test

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store/storetest"
)

// The world the generated events act on: patients with searches in every
// status, therapists with sent and unsent anfragen over those searches,
// anfragen with an email. Both databases get it in the same order, so the
// same ids.
const (
	propPatients   = 12
	propTherapists = 6
	propEmails     = 8
)

func seedWorld(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	// One open search per patient (aktiv or pausiert); some have a closed
	// one too.
	var searches []int64
	for p := int64(1); p <= propPatients; p++ {
		searches = append(searches, insertSearch(t, pool, p, []string{"aktiv", "pausiert", "aktiv"}[p%3]))
		if p%4 == 0 {
			searches = append(searches, insertSearch(t, pool, p, "erfolgreich"))
		}
	}
	for th := int64(1); th <= propTherapists; th++ {
		for k := range 3 {
			email := th*10 + int64(k)%propEmails
			a := anfrage{therapist: th, sent: k == 0, emailID: &email,
				searches: []int64{searches[(int(th)*3+k)%len(searches)], searches[(int(th)*5+k+1)%len(searches)]}}
			insertAnfrage(t, pool, a)
		}
	}
}

// genEvents is a random sequence of n events for the three consumers:
// mostly patient.deleted, therapist.blocked and .unblocked and
// communication events about few keys (so that a key recurs within a
// batch), repeats of earlier events (redeliveries), poison and types no
// route handles. Each event's At is its own, so both runs write the same
// timestamps.
func genEvents(rng *rand.Rand, n int) []events.Inbound {
	base := time.Date(2025, 8, 11, 9, 0, 0, 0, time.UTC)
	var out []events.Inbound
	for i := range n {
		if i > 0 && rng.Intn(8) == 0 {
			dup := out[rng.Intn(len(out))]
			out = append(out, dup)
			continue
		}
		var typ, payload string
		switch r := rng.Intn(20); {
		case r < 6:
			typ, payload = events.PatientDeleted, fmt.Sprintf(`{"patient_id":%d}`, 1+rng.Intn(propPatients))
		case r < 10:
			reason := []string{`"Lizenz ruht"`, `null`, `"Urlaub"`}[rng.Intn(3)]
			typ, payload = events.TherapistBlocked, fmt.Sprintf(`{"therapist_id":%d,"reason":%s}`, 1+rng.Intn(propTherapists), reason)
		case r < 12:
			typ, payload = events.TherapistUnblocked, fmt.Sprintf(`{"therapist_id":%d}`, 1+rng.Intn(propTherapists))
		case r < 15:
			typ, payload = events.EmailSent, fmt.Sprintf(`{"email_id":%d}`, 10+rng.Intn(propTherapists*10))
		case r < 16:
			typ, payload = events.PhoneCallCompleted, fmt.Sprintf(`{"phone_call_id":%d}`, rng.Intn(100))
		case r < 17:
			typ, payload = events.PatientUpdated, fmt.Sprintf(`{"patient_id":%d,"updated_fields":["email"]}`, 1+rng.Intn(propPatients))
		case r < 18:
			typ, payload = "patient.archived", `{"patient_id":1}`
		case r < 19:
			// Poison inside the transaction: a reason PostgreSQL cannot store.
			typ, payload = events.TherapistBlocked, fmt.Sprintf(`{"therapist_id":%d,"reason":"a\u0000b"}`, 1+rng.Intn(propTherapists))
		default:
			typ, payload = events.PatientDeleted, `{"patient_id":"none"}`
		}
		id := fmt.Sprintf("prop-%d", i)
		out = append(out, events.Inbound{Type: typ, ID: id, Source: "/prop", DedupeKey: "event:" + id,
			Key: "k", Payload: []byte(payload), At: base.Add(time.Duration(i) * time.Second)})
	}
	return out
}

// consumerOf names the processor of an event type: each consumer gets the
// events of its topic, in their order.
func consumerOf(typ string) int {
	switch {
	case strings.HasPrefix(typ, "therapist."):
		return 1
	case strings.HasPrefix(typ, "communication."):
		return 2
	}
	return 0
}

func processors(pool *pgxpool.Pool) []*inbox.Processor {
	return []*inbox.Processor{
		handlers.Patient(pool, nil, discardLog()),
		handlers.Therapist(pool, nil, discardLog()),
		handlers.Communication(pool, nil, discardLog(), placement.New(placement.Config{Pool: pool, Matching: testMatching})),
	}
}

// plan cuts evs into batches as consumers would take them: each consumer
// takes its own events in their order, a random number (1 to max) at a
// time, and the consumers take turns at random. The batches' order is the
// order both runs apply the events in.
func plan(evs []events.Inbound, rng *rand.Rand, max int) [][]int {
	pending := make([][]int, 3)
	for i, in := range evs {
		c := consumerOf(in.Type)
		pending[c] = append(pending[c], i)
	}
	var out [][]int
	for len(pending[0])+len(pending[1])+len(pending[2]) > 0 {
		c := rng.Intn(3)
		if len(pending[c]) == 0 {
			continue
		}
		n := min(len(pending[c]), 1+rng.Intn(max))
		out = append(out, pending[c][:n])
		pending[c] = pending[c][n:]
	}
	return out
}

// oneAtATime processes the batches' events one by one (Process) and
// returns the outcomes.
func oneAtATime(t *testing.T, pool *pgxpool.Pool, evs []events.Inbound, batches [][]int) []events.Outcome {
	ps := processors(pool)
	out := make([]events.Outcome, len(evs))
	for _, b := range batches {
		for _, i := range b {
			out[i], _ = ps[consumerOf(evs[i].Type)].Process(context.Background(), evs[i])
		}
	}
	return out
}

// batched hands each batch to its consumer's ProcessBatch and returns the
// outcomes.
func batched(t *testing.T, pool *pgxpool.Pool, evs []events.Inbound, batches [][]int) []events.Outcome {
	ps := processors(pool)
	out := make([]events.Outcome, len(evs))
	for _, b := range batches {
		ins := make([]events.Inbound, len(b))
		for k, i := range b {
			ins[k] = evs[i]
		}
		rs := ps[consumerOf(ins[0].Type)].ProcessBatch(context.Background(), ins)
		if len(rs) != len(b) {
			t.Fatalf("ProcessBatch returned %d results for %d events", len(rs), len(b))
		}
		for k, i := range b {
			out[i] = rs[k].Outcome
		}
	}
	return out
}

// state is what the two databases are compared on: every row of the
// searches, anfragen and their patients, the event log of the consumed
// events, the history (its changes and their causes, in order per row)
// and the emitted events in order per key. Ids of outbox and history rows
// and the times the seed's rows were created at (now()) differ legitimately
// and are left out; every time an event writes is its At.
func state(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	queries := map[string]string{
		"platzsuche":         `SELECT (to_jsonb(p) - 'created_at')::text FROM matching_service.platzsuche p ORDER BY id`,
		"therapeutenanfrage": `SELECT (to_jsonb(a) - 'erstellt_datum')::text FROM matching_service.therapeutenanfrage a ORDER BY id`,
		"anfrage_patient":    `SELECT (to_jsonb(x) - 'created_at')::text FROM matching_service.therapeut_anfrage_patient x ORDER BY id`,
		"processed_events": `SELECT (to_jsonb(e) - 'processed_at' - 'log_id')::text FROM matching_service.processed_events e
			ORDER BY consumer, dedupe_key`,
		"history": `SELECT concat_ws(' ', tbl, op, row_id, (before - 'created_at' - 'erstellt_datum')::text,
			(after - 'created_at' - 'erstellt_datum')::text, (cause - 'application')::text)
			FROM matching_service.history WHERE op <> 'SNAPSHOT' ORDER BY tbl, row_id, id`,
		"outbox": `SELECT concat_ws(' ', partition_key, event_type, payload::text) FROM matching_service.outbox
			ORDER BY partition_key, seq`,
	}
	out := map[string][]string{}
	for name, q := range queries {
		rows, err := pool.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out[name] = append(out[name], s)
		}
		if rows.Err() != nil {
			t.Fatal(rows.Err())
		}
	}
	return out
}

// A batch gives exactly the result of its events one at a time, in order:
// the same outcomes, rows, notes, exclusions, history causes and emitted
// events in the same per-key order, for random mixes of types, keys,
// redeliveries and poison. The seed is logged; PROPERTY_SEED is not
// needed to reproduce: rerun with -run and the seed set in seedFor.
func TestProcessBatch_givesExactlyTheResultOfOneAtATime(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	for round := range 3 {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			rng := rand.New(rand.NewSource(seed + int64(round)))
			evs := genEvents(rng, 160)
			single, _ := storetest.New(t)
			batch, _ := storetest.New(t)
			seedWorld(t, single)
			seedWorld(t, batch)
			batches := plan(evs, rng, 60)
			want := oneAtATime(t, single, evs, batches)
			got := batched(t, batch, evs, batches)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("outcomes (-one at a time +batched):\n%s", d)
			}
			if d := cmp.Diff(state(t, single), state(t, batch)); d != "" {
				t.Errorf("databases differ (-one at a time +batched):\n%s", d)
			}
		})
	}
}

// The comparison notices an order that is not the events' order: the same
// events with two dependent ones swapped leave a different database.
func TestProcessBatch_propertyComparisonNoticesAReordering(t *testing.T) {
	evs := []events.Inbound{
		{Type: events.TherapistBlocked, ID: "a", Source: "/prop", DedupeKey: "event:a", Payload: []byte(`{"therapist_id":1,"reason":"x"}`),
			At: time.Date(2025, 8, 11, 9, 0, 0, 0, time.UTC)},
		{Type: events.PatientDeleted, ID: "b", Source: "/prop", DedupeKey: "event:b", Payload: []byte(`{"patient_id":3}`),
			At: time.Date(2025, 8, 11, 9, 0, 1, 0, time.UTC)},
	}
	single, _ := storetest.New(t)
	swapped, _ := storetest.New(t)
	seedWorld(t, single)
	seedWorld(t, swapped)
	oneAtATime(t, single, evs, [][]int{{0}, {1}})
	oneAtATime(t, swapped, evs, [][]int{{1}, {0}})
	if cmp.Diff(state(t, single), state(t, swapped)) == "" {
		t.Fatal("swapping two events left the same state: the comparison cannot see an ordering bug")
	}
}
