package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// Change is one row of the history: a change of a search, an anfrage or an
// anfrage's patient row, with the whole row before and after (nil for an
// insert, resp. a delete) and its cause.
type Change struct {
	ID     int64
	At     time.Time
	Table  string
	Op     string // INSERT, UPDATE, DELETE, SNAPSHOT
	RowID  int64
	Before json.RawMessage
	After  json.RawMessage
	Cause  json.RawMessage
}

// LoggedEvent is one row of the event log: an event matching consumed or
// emitted.
type LoggedEvent struct {
	ID        int64
	At        time.Time
	Direction string // consumed, emitted
	Type      string
	EventID   *string
	Key       *string
	Consumer  *string
	DedupeKey *string
	Source    *string
	HandledAt *time.Time
	Payload   string
	// Cause is the cause of the transaction that emitted an event.
	Cause json.RawMessage
}

// TimelineItem is a change or an event; exactly one is set.
type TimelineItem struct {
	Change *Change
	Event  *LoggedEvent
}

// Entity kinds of a timeline.
const (
	EntitySearch    = "platzsuche_id"
	EntityAnfrage   = "anfrage_id"
	EntityPatient   = "patient_id"
	EntityTherapist = "therapist_id"
)

// timelineConditions select the history rows (h), the event log rows (e)
// and the emitted events still in the outbox (o) of an entity, $1 its id;
// each is a lookup in an index. An event in the outbox names its entity by
// its partition key: the search of search.*, the anfrage of
// therapeutenanfrage.*, the therapist of cooling.*. A patient's timeline
// holds their searches and anfrage patient rows, a therapist's their
// anfragen and the anfragen's patient rows.
var timelineConditions = map[string]struct{ history, events, consumed, outbox string }{
	EntitySearch: {`h.platzsuche_id = $1`, `e.platzsuche_id = $1`, `false`,
		`o.partition_key = $1::text AND o.event_type LIKE 'search.%'`},
	EntityAnfrage: {`h.anfrage_id = $1`, `e.anfrage_id = $1`, `false`,
		`o.partition_key = $1::text AND o.event_type LIKE 'therapeutenanfrage.%'`},
	EntityPatient: {`h.patient_id = $1`, `e.patient_id = $1`, `p.patient_id = $1`,
		`o.partition_key IN (SELECT DISTINCT row_id::text FROM matching_service.history
		                     WHERE patient_id = $1 AND tbl = 'platzsuche') AND o.event_type LIKE 'search.%'`},
	EntityTherapist: {
		`(h.therapist_id = $1 OR h.anfrage_id IN (SELECT anfrage_id FROM matching_service.history WHERE therapist_id = $1))`,
		`(e.therapist_id = $1 OR e.anfrage_id IN (SELECT anfrage_id FROM matching_service.history WHERE therapist_id = $1))`,
		`p.therapist_id = $1`,
		`((o.partition_key IN (SELECT DISTINCT anfrage_id::text FROM matching_service.history WHERE therapist_id = $1)
		   AND o.event_type LIKE 'therapeutenanfrage.%') OR (o.partition_key = $1::text AND o.event_type LIKE 'cooling.%'))`,
	},
}

// loggedColumns are the columns of an event in the timeline, as event_log
// (e) has them; processedColumns the same of a consumed event still in
// processed_events (p), outboxColumns of an emitted one still in the
// outbox (o).
const (
	loggedColumns = `e.id, e.at, e.direction, e.event_type, e.event_id, e.partition_key, e.consumer, e.dedupe_key,
		e.source, e.handled_at, e.payload, e.cause`
	processedColumns = `p.log_id, p.processed_at, 'consumed', p.event_type, p.event_id, p.partition_key, p.consumer,
		p.dedupe_key, p.source, p.handled_at, p.payload, NULL::jsonb`
	outboxColumns = `COALESCE(o.log_id, -o.seq), o.created_at, 'emitted', o.event_type, o.id::text, o.partition_key,
		NULL, NULL, NULL, NULL::timestamptz, o.payload::text, o.cause`
)

// Timeline returns one page of the timeline of an entity (kind one of the
// Entity… constants, id its id), oldest first, and the number of all its
// items: the changes of its rows, the events that name it, and the consumed
// events that caused its changes (whether or not they name it).
func Timeline(ctx context.Context, db DB, kind string, id int64, limit, offset int) ([]TimelineItem, int, error) {
	cond, ok := timelineConditions[kind]
	if !ok {
		return nil, 0, fmt.Errorf("timeline: unknown entity %q", kind)
	}
	// Changes and events share one sequence (history_seq; an outbox or
	// processed_events row's log_id), so their ids are the order in which
	// they were written. The events come from where they are kept now: the
	// event log, processed_events, the outbox.
	rows, err := db.Query(ctx, `
		WITH changes AS (
			SELECT h.* FROM matching_service.history h WHERE `+cond.history+`
		), causes AS (
			SELECT DISTINCT cause->>'consumer' AS consumer, cause->>'dedupe_key' AS dedupe_key
			FROM changes WHERE cause->>'kind' = 'event'
		), logged (id, at, direction, event_type, event_id, partition_key, consumer, dedupe_key, source, handled_at, payload, cause) AS (
			SELECT `+loggedColumns+` FROM matching_service.event_log e WHERE `+cond.events+`
			UNION
			SELECT `+loggedColumns+` FROM matching_service.event_log e
			JOIN causes c ON e.dedupe_key = c.dedupe_key AND e.consumer = c.consumer
			WHERE e.direction = 'consumed'
			UNION
			SELECT `+processedColumns+` FROM matching_service.processed_events p
			JOIN causes c ON p.consumer = c.consumer AND p.dedupe_key = c.dedupe_key
			WHERE p.payload IS NOT NULL
			UNION
			SELECT `+processedColumns+` FROM matching_service.processed_events p
			WHERE p.payload IS NOT NULL AND `+cond.consumed+`
			UNION ALL
			SELECT `+outboxColumns+` FROM matching_service.outbox o WHERE `+cond.outbox+`
		), items AS (
			SELECT true AS change, id, at, tbl, op, row_id, before, after, cause,
			       NULL AS direction, NULL AS event_type, NULL AS event_id, NULL AS partition_key, NULL AS consumer,
			       NULL AS dedupe_key, NULL AS source, NULL::timestamptz AS handled_at, NULL AS payload
			FROM changes
			UNION ALL
			SELECT false, id, at, NULL, NULL, NULL, NULL, NULL, cause,
			       direction, event_type, event_id, partition_key, consumer, dedupe_key, source, handled_at, payload
			FROM logged
		)
		SELECT t.total, p.*
		FROM (SELECT count(*) AS total FROM items) t
		LEFT JOIN LATERAL (SELECT * FROM items ORDER BY id LIMIT $2 OFFSET $3) p ON true`, id, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("timeline of %s %d: %w", kind, id, err)
	}
	defer rows.Close()
	var (
		out   []TimelineItem
		total int
	)
	for rows.Next() {
		var (
			isChange      *bool
			itemID, rowID *int64
			at            *time.Time
			tbl, op       *string
			before, after []byte
			cause         []byte
			dir, typ      *string
			payload       *string
			ev            LoggedEvent
		)
		if err := rows.Scan(&total, &isChange, &itemID, &at, &tbl, &op, &rowID, &before, &after, &cause,
			&dir, &typ, &ev.EventID, &ev.Key, &ev.Consumer, &ev.DedupeKey, &ev.Source, &ev.HandledAt, &payload); err != nil {
			return nil, 0, fmt.Errorf("timeline of %s %d: %w", kind, id, err)
		}
		switch {
		case isChange == nil: // the page is empty
		case *isChange:
			out = append(out, TimelineItem{Change: &Change{
				ID: *itemID, At: *at, Table: *tbl, Op: *op, RowID: *rowID,
				Before: before, After: after, Cause: cause,
			}})
		default:
			ev.ID, ev.At, ev.Direction, ev.Type, ev.Payload, ev.Cause = *itemID, *at, *dir, *typ, *payload, cause
			out = append(out, TimelineItem{Event: &ev})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("timeline of %s %d: %w", kind, id, err)
	}
	return out, total, nil
}

// FieldChange is a field whose value differs between two versions of a row.
type FieldChange struct {
	Field         string
	Before, After json.RawMessage // JSON values; null when absent
}

// DiffRows returns, by field name, the fields whose values differ between two
// versions of a row as JSON objects (as the history and to_jsonb write them:
// PostgreSQL's normal form, so equal values have equal text). A nil row has
// every field null, so an inserted row shows its non-null fields.
func DiffRows(before, after json.RawMessage) ([]FieldChange, error) {
	var b, a map[string]json.RawMessage
	if len(before) > 0 {
		if err := json.Unmarshal(before, &b); err != nil {
			return nil, fmt.Errorf("row before: %w", err)
		}
	}
	if len(after) > 0 {
		if err := json.Unmarshal(after, &a); err != nil {
			return nil, fmt.Errorf("row after: %w", err)
		}
	}
	value := func(m map[string]json.RawMessage, k string) json.RawMessage {
		if v, ok := m[k]; ok {
			return v
		}
		return json.RawMessage("null")
	}
	fields := make([]string, 0, len(a)+len(b))
	for k := range a {
		fields = append(fields, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			fields = append(fields, k)
		}
	}
	slices.Sort(fields)
	var out []FieldChange
	for _, k := range fields {
		bv, av := value(b, k), value(a, k)
		if !bytes.Equal(bv, av) {
			out = append(out, FieldChange{Field: k, Before: bv, After: av})
		}
	}
	return out, nil
}
