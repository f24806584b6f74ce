package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
)

// This file serves the history (enhancements C2): the timeline of an entity
// (GET /api/verlauf) and the detail reads at an instant (?stand=).

// readSearch reads search id with its entries: now, or as they were at
// stand.
func (s *Server) readSearch(ctx context.Context, id int64, stand *time.Time) (store.Search, []store.SearchEntry, error) {
	get, entries := store.GetSearch, store.SearchEntries
	if stand != nil {
		get = func(ctx context.Context, db store.DB, id int64) (store.Search, error) {
			return store.GetSearchAt(ctx, db, id, *stand)
		}
		entries = func(ctx context.Context, db store.DB, id int64) ([]store.SearchEntry, error) {
			return store.SearchEntriesAt(ctx, db, id, *stand)
		}
	}
	x, err := get(ctx, s.cfg.Pool, id)
	if err != nil {
		return store.Search{}, nil, err
	}
	es, err := entries(ctx, s.cfg.Pool, id)
	return x, es, err
}

// readAnfrage reads anfrage id with its entries: now, or as they were at
// stand.
func (s *Server) readAnfrage(ctx context.Context, id int64, stand *time.Time) (store.Anfrage, []store.AnfrageEntry, error) {
	get, entries := store.GetAnfrage, store.AnfrageEntries
	if stand != nil {
		get = func(ctx context.Context, db store.DB, id int64) (store.Anfrage, error) {
			return store.GetAnfrageAt(ctx, db, id, *stand)
		}
		entries = func(ctx context.Context, db store.DB, id int64) ([]store.AnfrageEntry, error) {
			return store.AnfrageEntriesAt(ctx, db, id, *stand)
		}
	}
	a, err := get(ctx, s.cfg.Pool, id)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	es, err := entries(ctx, s.cfg.Pool, id)
	return a, es, err
}

// timelineEntities are the parameters of GET /api/verlauf, one of which
// names the entity.
var timelineEntities = []string{store.EntitySearch, store.EntityAnfrage, store.EntityPatient, store.EntityTherapist}

// GET /api/verlauf?platzsuche_id=…|anfrage_id=…|patient_id=…|therapist_id=…[&page=…&limit=…]
func (s *Server) timeline(r *http.Request) (int, any, error) {
	q := readQuery(r)
	var (
		kind  string
		id    int64
		given int
	)
	for _, k := range timelineEntities {
		if v := q.integer(k); v != nil {
			kind, id = k, *v
			given++
		}
	}
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	if given != 1 {
		return 0, nil, fault.Invalidf("Give exactly one of platzsuche_id, anfrage_id, patient_id and therapist_id")
	}
	page, limit := q.pagination()
	items, total, err := store.Timeline(r.Context(), s.cfg.Pool, kind, id, limit, offset(page, limit))
	if err != nil {
		return 0, nil, err
	}
	data := make([]any, 0, len(items))
	for _, it := range items {
		if it.Change != nil {
			c, err := changeItem(*it.Change)
			if err != nil {
				return 0, nil, err
			}
			data = append(data, c)
		} else {
			data = append(data, eventItem(*it.Event))
		}
	}
	return http.StatusOK, map[string]any{"data": data, "page": page, "limit": limit, "total": total}, nil
}

// fieldChange is one changed field of a timeline change.
type fieldChange struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}

type timelineChange struct {
	Kind      string                 `json:"kind"` // change
	ID        int64                  `json:"id"`
	Time      string                 `json:"time"`
	Table     string                 `json:"table"`
	Operation string                 `json:"operation"`
	RowID     int64                  `json:"row_id"`
	Changes   map[string]fieldChange `json:"changes"`
	Cause     json.RawMessage        `json:"cause"`
}

// changeItem is a change as the timeline shows it: the fields whose values
// differ before → after (an insert shows its non-null fields, a delete the
// fields it removed).
func changeItem(c store.Change) (timelineChange, error) {
	diff, err := store.DiffRows(c.Before, c.After)
	if err != nil {
		return timelineChange{}, err
	}
	fields := make(map[string]fieldChange, len(diff))
	for _, d := range diff {
		fields[d.Field] = fieldChange{Before: d.Before, After: d.After}
	}
	return timelineChange{
		Kind: "change", ID: c.ID, Time: instant(c.At), Table: c.Table, Operation: c.Op, RowID: c.RowID,
		Changes: fields, Cause: c.Cause,
	}, nil
}

type timelineEvent struct {
	Kind      string          `json:"kind"` // event
	ID        int64           `json:"id"`
	Time      string          `json:"time"`
	Direction string          `json:"direction"`
	Type      string          `json:"type"`
	EventID   *string         `json:"event_id"`
	Key       *string         `json:"key"`
	Payload   json.RawMessage `json:"payload"`
	// Consumed events: who consumed it, its dedupe key, source and the
	// time its handlers applied it.
	Consumer  *string `json:"consumer,omitempty"`
	DedupeKey *string `json:"dedupe_key,omitempty"`
	Source    *string `json:"source,omitempty"`
	HandledAt *string `json:"handled_at,omitempty"`
	// Emitted events: the cause of the transaction that emitted it.
	Cause json.RawMessage `json:"cause,omitempty"`
}

func eventItem(e store.LoggedEvent) timelineEvent {
	payload := json.RawMessage(e.Payload)
	if !json.Valid(payload) {
		payload, _ = json.Marshal(e.Payload)
	}
	var handled *string
	if e.HandledAt != nil {
		h := instant(*e.HandledAt)
		handled = &h
	}
	return timelineEvent{
		Kind: "event", ID: e.ID, Time: instant(e.At), Direction: e.Direction, Type: e.Type,
		EventID: e.EventID, Key: e.Key, Payload: payload,
		Consumer: e.Consumer, DedupeKey: e.DedupeKey, Source: e.Source, HandledAt: handled, Cause: e.Cause,
	}
}

// instant is how the history's times are written: RFC 3339 in UTC with
// microseconds, the form ?stand= reads.
func instant(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z07:00") }
