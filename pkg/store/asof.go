package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
)

// This file reads searches and anfragen as they were at an instant (the
// API's ?stand=), from the history alone: the state of a row at instant t is
// the row after its latest change in a transaction that began at or before
// t, unless that change deleted it. Every row has a history from its
// creation or from the migration that began the history (a SNAPSHOT row),
// so a row without history at t did not exist then.
//
// The reads return the same types as the live reads and share their column
// lists, so the API answers the same JSON for both.

// rowsAt is the state at $2 of the rows of table tbl whose history rows
// match cond (an indexed entity condition on h): one row of the table's row
// type per row that existed then, rebuilt with jsonb_populate_record (a
// column added after the change reads NULL).
func rowsAt(tbl, cond string) string {
	return `SELECT (jsonb_populate_record(NULL::matching_service.` + tbl + `, h.after)).*
		FROM (SELECT DISTINCT ON (h.row_id) h.op, h.after
		      FROM matching_service.history h
		      WHERE h.tbl = '` + tbl + `' AND ` + cond + ` AND h.at <= $2
		      ORDER BY h.row_id, h.id DESC) h
		WHERE h.op <> 'DELETE'`
}

// HistoryHorizon is the earliest instant whose state the history can
// rebuild: when it began (migration 00030), or the cutoff of the history
// retention (HISTORY_RETENTION_DAYS), whichever is later.
func HistoryHorizon(ctx context.Context, db DB) (time.Time, error) {
	var h *time.Time
	err := db.QueryRow(ctx, `SELECT horizon FROM matching_service.history_retention`).Scan(&h)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("history horizon: %w", err)
	}
	if h == nil {
		return time.Time{}, nil
	}
	return *h, nil
}

// checkHorizon refuses an instant before the history's horizon: what
// existed then cannot be told.
func checkHorizon(ctx context.Context, db DB, at time.Time) error {
	h, err := HistoryHorizon(ctx, db)
	if err != nil {
		return err
	}
	if at.Before(h) {
		return fault.NotFoundf("The history begins at %s; nothing earlier can be shown", h.UTC().Format(time.RFC3339))
	}
	return nil
}

// GetSearchAt reads search id with its counts as it was at at. A search
// that did not exist then is a fault.NotFound, as is an instant before the
// history's horizon.
func GetSearchAt(ctx context.Context, db DB, id int64, at time.Time) (Search, error) {
	if err := checkHorizon(ctx, db, at); err != nil {
		return Search{}, err
	}
	s, err := scanSearch(db.QueryRow(ctx, `
		WITH s AS (`+rowsAt("platzsuche", "h.platzsuche_id = $1")+`),
		     e AS (`+rowsAt("therapeut_anfrage_patient", "h.platzsuche_id = $1")+`)
		SELECT `+searchColumns+`
		FROM s LEFT JOIN LATERAL (
			SELECT count(*) FILTER (WHERE e.status = 'anstehend') AS aktive, count(*) AS gesamt
			FROM e WHERE e.platzsuche_id = s.id) c ON true`, id, at))
	if errors.Is(err, pgx.ErrNoRows) {
		return Search{}, fault.NotFoundf("Patient search %d did not exist at %s", id, at.UTC().Format(time.RFC3339Nano))
	}
	if err != nil {
		return Search{}, fmt.Errorf("read platzsuche %d at %s: %w", id, at, err)
	}
	return s, nil
}

// SearchEntriesAt lists the anfrage entries of search id as they were at
// at, each with its anfrage as it was then.
func SearchEntriesAt(ctx context.Context, db DB, id int64, at time.Time) ([]SearchEntry, error) {
	return searchEntries(ctx, db, id, `
		FROM (`+rowsAt("therapeut_anfrage_patient", "h.platzsuche_id = $1")+`) e
		JOIN (`+rowsAt("therapeutenanfrage", `h.anfrage_id IN (
			SELECT DISTINCT anfrage_id FROM matching_service.history
			WHERE platzsuche_id = $1 AND tbl = 'therapeut_anfrage_patient')`)+`) a
		  ON a.id = e.therapeutenanfrage_id`, at)
}

// GetAnfrageAt reads anfrage id as it was at at. An anfrage that did not
// exist then is a fault.NotFound, as is an instant before the history's
// horizon.
func GetAnfrageAt(ctx context.Context, db DB, id int64, at time.Time) (Anfrage, error) {
	if err := checkHorizon(ctx, db, at); err != nil {
		return Anfrage{}, err
	}
	var a Anfrage
	err := db.QueryRow(ctx, `
		WITH a AS (`+rowsAt("therapeutenanfrage", "h.anfrage_id = $1")+`),
		     e AS (`+rowsAt("therapeut_anfrage_patient", "h.anfrage_id = $1")+`)
		SELECT `+anfrageRowColumns+`, COALESCE((SELECT bool_and(e.antwortergebnis IS NOT NULL) FROM e), true)
		FROM a`, id, at).Scan(anfrageDest(&a)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Anfrage{}, fault.NotFoundf("Anfrage %d did not exist at %s", id, at.UTC().Format(time.RFC3339Nano))
	}
	if err != nil {
		return Anfrage{}, fmt.Errorf("read anfrage %d at %s: %w", id, at, err)
	}
	return a, nil
}

// AnfrageEntriesAt lists the entries of anfrage id as they were at at, each
// with its search as it was then (also a search deleted since).
func AnfrageEntriesAt(ctx context.Context, db DB, id int64, at time.Time) ([]AnfrageEntry, error) {
	return anfrageEntries(ctx, db, id, `
		FROM (`+rowsAt("therapeut_anfrage_patient", "h.anfrage_id = $1")+`) e
		JOIN (`+rowsAt("platzsuche", `h.platzsuche_id IN (
			SELECT DISTINCT platzsuche_id FROM matching_service.history
			WHERE anfrage_id = $1 AND tbl = 'therapeut_anfrage_patient')`)+`) s
		  ON s.id = e.platzsuche_id`, at)
}
