package replay

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/store"
)

// The replay's SQL reads the history and the event log of the source and
// writes the scratch database; it stays beside the replay, as it serves
// nothing else.

// tables are the tables with a history, in the order their rows are loaded
// (a row's foreign keys point at rows loaded before it).
var tables = []string{"platzsuche", "therapeutenanfrage", "therapeut_anfrage_patient"}

// change is one recorded change of a row.
type change struct {
	id            int64
	tbl, op       string
	rowID         int64
	before, after json.RawMessage
}

// consumed is one consumed event of the event log.
type consumed struct {
	id                                 int64
	Consumer, DedupeKey, Type, EventID string
	Source, Key, Payload               string
	HandledAt                          time.Time
}

// step is what one cause did in the window: a consumed event to re-apply
// (with the changes it made then), or the changes of one request, job run
// or manual transaction to apply as recorded.
type step struct {
	seq     int64 // its last write: the order of the steps
	kind    string
	cause   string
	event   *consumed
	changes []change
}

func (s step) describe() string { return s.kind + " " + s.cause }

// readSteps reads the steps of [from, to) in their order.
func readSteps(ctx context.Context, src *pgxpool.Pool, from, to time.Time) ([]step, error) {
	byKey := map[string]*step{}
	var order []string
	get := func(key, kind, cause string) *step {
		s, ok := byKey[key]
		if !ok {
			s = &step{kind: kind, cause: cause}
			byKey[key] = s
			order = append(order, key)
		}
		return s
	}
	// A consumed event's changes are grouped by the event (a batch applies
	// several in one transaction), every other cause's by transaction; what
	// an event's handler did after the event's commit is a step of its own,
	// applied as recorded.
	rows, err := src.Query(ctx, `
		SELECT id, txid::text, cause::text,
		       CASE WHEN (cause->>'after_commit')::boolean THEN 'event-after' ELSE cause->>'kind' END,
		       coalesce(cause->>'consumer', ''), coalesce(cause->>'dedupe_key', ''),
		       tbl, op, row_id, before, after
		FROM matching_service.history WHERE at >= $1 AND at < $2 ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read the history: %w", err)
	}
	var (
		c                                      change
		txid, cause, kind, consumer, dedupeKey string
	)
	_, err = pgx.ForEachRow(rows, []any{&c.id, &txid, &cause, &kind, &consumer, &dedupeKey, &c.tbl, &c.op, &c.rowID, &c.before, &c.after}, func() error {
		key := "tx " + txid + " " + cause
		if kind == store.CauseEvent {
			key = "event " + consumer + " " + dedupeKey
		}
		s := get(key, kind, cause)
		s.changes = append(s.changes, change{id: c.id, tbl: c.tbl, op: c.op, rowID: c.rowID,
			before: append(json.RawMessage(nil), c.before...), after: append(json.RawMessage(nil), c.after...)})
		s.seq = max(s.seq, c.id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the history: %w", err)
	}
	rows, err = src.Query(ctx, `
		SELECT id, consumer, dedupe_key, event_type, coalesce(event_id, ''), coalesce(source, ''), coalesce(partition_key, ''),
		       payload, handled_at
		FROM matching_service.consumed_events
		WHERE at >= $1 AND at < $2 ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("read the event log: %w", err)
	}
	var e consumed
	_, err = pgx.ForEachRow(rows, []any{&e.id, &e.Consumer, &e.DedupeKey, &e.Type, &e.EventID, &e.Source, &e.Key, &e.Payload, &e.HandledAt}, func() error {
		s := get("event "+e.Consumer+" "+e.DedupeKey, store.CauseEvent, "")
		ev := e
		s.event = &ev
		s.seq = max(s.seq, e.id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the event log: %w", err)
	}
	steps := make([]step, 0, len(order))
	for _, k := range order {
		steps = append(steps, *byKey[k])
	}
	slices.SortStableFunc(steps, func(a, b step) int { return cmp.Compare(a.seq, b.seq) })
	return steps, nil
}

// stateAt is the recorded state at t of the rows of tbl: the row after its
// last change in a transaction that began before t, unless it was deleted,
// by id.
const stateAt = `
	SELECT row_id, after FROM (
		SELECT DISTINCT ON (row_id) row_id, op, after
		FROM matching_service.history
		WHERE tbl = $1 AND at < $2
		ORDER BY row_id, id DESC) h
	WHERE op <> 'DELETE'
	ORDER BY row_id`

// loadState writes the recorded state at from into the scratch database,
// in statements of a few thousand rows, and moves each id sequence past the
// highest id the source ever gave.
func loadState(ctx context.Context, src, scratch *pgxpool.Pool, from time.Time) error {
	const chunk = 2000
	for _, tbl := range tables {
		rows, err := src.Query(ctx, stateAt, tbl, from)
		if err != nil {
			return fmt.Errorf("state of %s at %s: %w", tbl, from, err)
		}
		var (
			batch []json.RawMessage
			id    int64
			after json.RawMessage
		)
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			b, _ := json.Marshal(batch)
			_, err := scratch.Exec(ctx, `INSERT INTO matching_service.`+tbl+`
				SELECT * FROM jsonb_populate_recordset(NULL::matching_service.`+tbl+`, $1)`, b)
			batch = batch[:0]
			return err
		}
		_, err = pgx.ForEachRow(rows, []any{&id, &after}, func() error {
			batch = append(batch, append(json.RawMessage(nil), after...))
			if len(batch) == chunk {
				return flush()
			}
			return nil
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", tbl, err)
		}
		var top int64
		if err := src.QueryRow(ctx, `SELECT coalesce(max(row_id), 0) FROM matching_service.history WHERE tbl = $1`, tbl).Scan(&top); err != nil {
			return err
		}
		if top > 0 {
			if _, err := scratch.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2)`, "matching_service."+tbl, top); err != nil {
				return err
			}
		}
	}
	return nil
}

// compare lists where the scratch database differs from the recorded state
// at to: every row of the three tables, field by field, and the events each
// replayed event emitted.
func compare(ctx context.Context, src, scratch *pgxpool.Pool, from, to time.Time) ([]Difference, error) {
	var out []Difference
	for _, tbl := range tables {
		recorded, err := rowsByID(ctx, src, stateAt, tbl, to)
		if err != nil {
			return nil, fmt.Errorf("recorded %s at %s: %w", tbl, to, err)
		}
		replayed, err := rowsByID(ctx, scratch, `SELECT id, to_jsonb(t) FROM matching_service.`+tbl+` t ORDER BY id`)
		if err != nil {
			return nil, fmt.Errorf("replayed %s: %w", tbl, err)
		}
		for _, id := range keysOfBoth(recorded, replayed) {
			entity := fmt.Sprintf("%s %d", tbl, id)
			rec, inRec := recorded[id]
			rep, inRep := replayed[id]
			if inRec != inRep {
				out = append(out, Difference{Entity: entity, Field: "(row)", Recorded: presence(inRec), Replayed: presence(inRep)})
				continue
			}
			diff, err := store.DiffRows(rec, rep)
			if err != nil {
				return nil, err
			}
			for _, d := range diff {
				out = append(out, Difference{Entity: entity, Field: d.Field, Recorded: string(d.Before), Replayed: string(d.After)})
			}
		}
	}
	emitted, err := compareEmitted(ctx, src, scratch, from, to)
	return append(out, emitted...), err
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

// rowsByID runs a query of (id, row as JSON).
func rowsByID(ctx context.Context, db *pgxpool.Pool, sql string, args ...any) (map[int64]json.RawMessage, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[int64]json.RawMessage{}
	var (
		id  int64
		row json.RawMessage
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &row}, func() error {
		out[id] = append(json.RawMessage(nil), row...)
		return nil
	})
	return out, err
}

// compareEmitted compares, per consumed event, the events it emitted then
// (the source's outbox and event log in the window) with those the replay
// emitted (the scratch database's outbox), by type, key and payload in
// order: outbox ids are random.
func compareEmitted(ctx context.Context, src, scratch *pgxpool.Pool, from, to time.Time) ([]Difference, error) {
	const q = `
		SELECT cause->>'consumer' || ' ' || (cause->>'dedupe_key'),
		       jsonb_build_object('type', event_type, 'key', partition_key, 'payload', payload::jsonb)
		FROM matching_service.emitted_events
		WHERE cause->>'kind' = 'event' AND (cause->>'after_commit') IS NULL AND at >= $1 AND at < $2
		ORDER BY id`
	recorded, err := emittedByEvent(ctx, src, q, from, to)
	if err != nil {
		return nil, fmt.Errorf("recorded emitted events: %w", err)
	}
	replayed, err := emittedByEvent(ctx, scratch, q, time.Time{}, time.Now().Add(time.Hour))
	if err != nil {
		return nil, fmt.Errorf("replayed emitted events: %w", err)
	}
	var out []Difference
	for _, k := range keysOfBoth(recorded, replayed) {
		rec, _ := json.Marshal(recorded[k])
		rep, _ := json.Marshal(replayed[k])
		if string(rec) != string(rep) {
			out = append(out, Difference{Entity: "event " + k, Field: "emitted", Recorded: string(rec), Replayed: string(rep)})
		}
	}
	return out, nil
}

func emittedByEvent(ctx context.Context, db *pgxpool.Pool, q string, from, to time.Time) (map[string][]json.RawMessage, error) {
	rows, err := db.Query(ctx, q, from, to)
	if err != nil {
		return nil, err
	}
	out := map[string][]json.RawMessage{}
	var (
		key string
		ev  json.RawMessage
	)
	_, err = pgx.ForEachRow(rows, []any{&key, &ev}, func() error {
		out[key] = append(out[key], append(json.RawMessage(nil), ev...))
		return nil
	})
	return out, err
}

// keysOfBoth are the keys of a and of b, sorted.
func keysOfBoth[K cmp.Ordered, V any](a, b map[K]V) []K {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
