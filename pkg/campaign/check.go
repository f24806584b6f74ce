package campaign

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/placement"
)

// Row is one invariant of the report.
type Row struct {
	Invariant, Expected, Observed string
	OK                            bool
}

// checker compares the database and the topics with the units sent.
type checker struct {
	e     *env
	units []*unit
	t     *traffic
	rows  []Row
}

func (c *checker) add(invariant, expected, observed string, ok bool) {
	c.rows = append(c.rows, Row{Invariant: invariant, Expected: expected, Observed: observed, OK: ok})
}

// count runs a query returning one integer; an error becomes -1 and a row.
func (c *checker) count(ctx context.Context, sql string, args ...any) int {
	var n int
	if err := c.e.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		c.add("query", "", fmt.Sprintf("%.60s: %v", strings.TrimSpace(sql), err), false)
		return -1
	}
	return n
}

// consumed counts the events sent per consumer.
func (c *checker) consumed() map[string]int {
	m := map[string]int{}
	for _, u := range c.units {
		for _, ev := range u.events {
			m[ev.Consumer]++
		}
	}
	return m
}

// drained reports whether every sent event has been processed and no
// outbox row waits.
func (c *checker) drained(ctx context.Context) bool {
	for consumer, n := range c.consumed() {
		if c.quietCount(ctx, `SELECT count(*) FROM matching_service.processed_events WHERE consumer = $1`, consumer) != n {
			return false
		}
	}
	return c.quietCount(ctx, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`) == 0
}

func (c *checker) quietCount(ctx context.Context, sql string, args ...any) int {
	var n int
	if err := c.e.pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return -1
	}
	return n
}

// noteCount is the SQL of how often note occurs in column notizen.
func noteCount(note string) string {
	return fmt.Sprintf(`(length(coalesce(notizen, '')) - length(replace(coalesce(notizen, ''), %s, ''))) / length(%s)`, note, note)
}

// state compares matching's tables with the model: each unit's effect
// exactly once.
func (c *checker) state(ctx context.Context) {
	exactly := func(name string, want int, sql string, args ...any) {
		got := c.count(ctx, sql, args...)
		c.add(name, fmt.Sprint(want), fmt.Sprint(got), got == want)
	}
	pats, thers := idsOf(c.units, unitPatient), idsOf(c.units, unitTherapist)
	emails, replies := idsOf(c.units, unitEmail), idsOf(c.units, unitReply)
	exactly("patient units: search cancelled, one note", len(pats), `
		SELECT count(*) FROM matching_service.platzsuche WHERE patient_id = ANY($1)
		AND status = 'abgebrochen' AND `+noteCount("$2")+` = 1`, pats, handlers.PatientDeletedNote)
	exactly("patient units: one search each (nothing else)", len(pats), `
		SELECT count(*) FROM matching_service.platzsuche WHERE patient_id = ANY($1)`, pats)
	blockNote, _, _ := handlers.BlockTexts(blockReason)
	exactly("therapist units: anfrage cancelled, one note", len(thers), `
		SELECT count(*) FROM matching_service.therapeutenanfrage WHERE therapist_id = ANY($1)
		AND storniert_datum IS NOT NULL AND `+noteCount("$2")+` = 1`, thers, blockNote)
	exactly("email units: one 'Email … sent' note", len(emails), `
		SELECT count(*) FROM matching_service.therapeutenanfrage WHERE email_id = ANY($1)
		AND `+noteCount(`'Email ' || email_id || ' sent'`)+` = 1`, emails)
	exactly("reply units: one stored reply each", len(replies), `
		SELECT count(*) FROM (SELECT email_id FROM matching_service.antwort_vorschlag
		WHERE email_id = ANY($1) GROUP BY email_id HAVING count(*) = 1) r`, replies)
	exactly("reply units: one review note each", len(replies), `
		SELECT count(*) FROM matching_service.therapeutenanfrage WHERE email_id = ANY($1)
		AND `+noteCount("$2")+` = 1`, replies, placement.ReplyReviewNote)
	for _, consumer := range []string{handlers.PatientGroup, handlers.TherapistGroup, handlers.CommunicationGroup} {
		exactly("consumed once: processed_events of "+consumer, c.consumed()[consumer], `
			SELECT count(*) FROM matching_service.processed_events WHERE consumer = $1`, consumer)
	}
	// The API's searches: one per patient whose scenario began, resumed.
	var apiPatients, apiSearches []int64
	c.t.apiSearches.Range(func(k, v any) bool {
		apiPatients, apiSearches = append(apiPatients, k.(int64)), append(apiSearches, v.(int64))
		return true
	})
	exactly("API: one search per patient, aktiv after pause and resume", len(apiPatients), `
		SELECT count(*) FROM (SELECT patient_id FROM matching_service.platzsuche WHERE patient_id = ANY($1)
		GROUP BY patient_id HAVING count(*) = 1 AND bool_and(status = 'aktiv')) s`, apiPatients)
	// Emitted: one event per effect.
	want := map[string]int{
		events.SearchStatusChanged: len(pats) + 3*len(apiSearches), // created, paused, resumed
		events.AnfrageCancelled:    len(thers),
		events.AnfrageReviewNeeded: len(replies),
	}
	got := map[string]int{}
	rows, err := c.e.pool.Query(ctx, `SELECT event_type, count(*) FROM matching_service.outbox GROUP BY 1`)
	if err == nil {
		for rows.Next() {
			var t string
			var n int
			if rows.Scan(&t, &n) == nil {
				got[t] = n
			}
		}
		rows.Close()
	}
	c.add("emitted once per effect (outbox by type)", fmtCounts(want), fmtCounts(got), equalCounts(want, got))
	exactly("no entity's status change emitted twice", 0, `
		SELECT count(*) FROM (SELECT 1 FROM matching_service.outbox
		GROUP BY ordering_key, event_type, payload->>'old_status', payload->>'new_status' HAVING count(*) > 1) d`)
	exactly("API searches: created, paused, resumed in this order", len(apiSearches), `
		SELECT count(*) FROM (SELECT ordering_key FROM matching_service.outbox
		WHERE ordering_key = ANY(SELECT 'search:' || unnest($1::bigint[])) AND event_type = $2
		GROUP BY ordering_key HAVING array_agg(payload->>'new_status' ORDER BY seq) = '{aktiv,pausiert,aktiv}') o`,
		apiSearches, events.SearchStatusChanged)
	exactly("no outbox row left unpublished", 0, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`)
}

func fmtCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %d; ", strings.TrimPrefix(k, "therapeutenanfrage."), m[k])
	}
	return strings.TrimSuffix(b.String(), "; ")
}

func equalCounts(a, b map[string]int) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	for k, v := range b {
		if a[k] != v {
			return false
		}
	}
	return true
}

// topics checks matching-events against the outbox: every row's event
// there at least once, and each entity's events in the outbox's order; and
// that nothing was dead-lettered.
func (c *checker) topics(ctx context.Context) {
	recs, err := readTopic(c.e.broker.Addrs, "matching-events")
	if err != nil {
		c.add("matching-events readable", "", err.Error(), false)
		return
	}
	first := map[string]int{} // event id → index of its first record
	for i, r := range recs {
		if _, ok := first[r.ID]; !ok {
			first[r.ID] = i
		}
	}
	type row struct {
		id, key string
	}
	var outbox []row
	rows, err := c.e.pool.Query(ctx, `SELECT id::text, coalesce(ordering_key, partition_key) FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		c.add("outbox readable", "", err.Error(), false)
		return
	}
	for rows.Next() {
		var r row
		if rows.Scan(&r.id, &r.key) == nil {
			outbox = append(outbox, r)
		}
	}
	rows.Close()
	missing, disorder := 0, 0
	last := map[string]int{}
	for _, r := range outbox {
		i, ok := first[r.id]
		if !ok {
			missing++
			continue
		}
		// Within a partition the index order is the offset order;
		// an entity's events share their key, so their partition.
		if prev, ok := last[r.key]; ok && recs[prev].Partition == recs[i].Partition && recs[prev].Offset > recs[i].Offset {
			disorder++
		}
		last[r.key] = i
	}
	c.add("every emitted event on matching-events", fmt.Sprintf("%d of %d", len(outbox), len(outbox)),
		fmt.Sprintf("%d of %d (%d records, %d duplicates)", len(outbox)-missing, len(outbox), len(recs), len(recs)-len(first)), missing == 0)
	c.add("in order per entity on matching-events", "0 out of order", fmt.Sprintf("%d out of order", disorder), disorder == 0)
	dlq, err := readTopic(c.e.broker.Addrs, "matching-events-dlq")
	c.add("nothing dead-lettered", "0", fmt.Sprint(len(dlq)), err == nil && len(dlq) == 0)
}

// answers checks the HTTP answers: no 4xx to a valid request, and no 5xx
// to a request sent more than grace after every fault had ended.
func (c *checker) answers(windows []window, grace time.Duration) {
	c.add("valid events and calls accepted (no 4xx)", "0", fmt.Sprintf("%d %s", len(c.t.rejected), strings.Join(c.t.rejected, "; ")), len(c.t.rejected) == 0)
	total, late := 0, 0
	var worst time.Duration
	for _, a := range c.t.answers {
		if a.Status < 500 {
			continue
		}
		total++
		// The request was in flight from At to Done; a fault excuses it
		// when that overlaps the fault or the grace after it.
		excused, since := false, time.Duration(math.MaxInt64)
		for _, w := range windows {
			if a.At.Before(w.End.Add(grace)) && a.Done.After(w.Start) {
				excused = true
				break
			}
			if a.At.After(w.End) {
				since = a.At.Sub(w.End)
			}
		}
		if !excused {
			late++
			if since != math.MaxInt64 {
				worst = max(worst, since)
			}
		}
	}
	c.add(fmt.Sprintf("no 5xx to a request sent over %s after a fault ended", grace), "0",
		fmt.Sprintf("%d late (of %d 5xx; latest sent %s after)", late, total, worst.Round(time.Millisecond)), late == 0)
	// A fault is a dependency that is unavailable: 503 (retried by the
	// dispatcher, a clerk may try again), never 500 (an unforeseen error).
	var internal []string
	for _, a := range c.t.answers {
		if a.Status == 500 && len(internal) < 10 {
			internal = append(internal, a.What)
		}
	}
	n500 := 0
	for _, a := range c.t.answers {
		if a.Status == 500 {
			n500++
		}
	}
	c.add("faults answered 503, never 500", "0", fmt.Sprintf("%d %s", n500, strings.Join(internal, "; ")), n500 == 0)
	failed := 0
	for _, w := range windows {
		if w.Err != nil {
			failed++
		}
	}
	c.add("every fault injected and ended", fmt.Sprintf("%d faults", len(windows)), fmt.Sprintf("%d failed", failed), failed == 0 && len(windows) > 0)
}
