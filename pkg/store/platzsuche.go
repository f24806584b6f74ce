package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/curavani/matching/pkg/fault"
)

// DB is what the store's queries run on: a pool or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Search is a row of matching_service.platzsuche together with the counts of
// its anfrage entries (therapeut_anfrage_patient rows): ActiveAnfragen counts
// the entries still anstehend, TotalAnfragen all of them.
type Search struct {
	ID                  int64
	PatientID           int64
	Status              string
	CreatedAt           time.Time
	UpdatedAt           *time.Time
	Exclusions          json.RawMessage
	ContactCount        int
	SuccessfulAt        *time.Time
	Notes               *string
	ActiveAnfragen      int
	TotalAnfragen       int
	ExclusionListLength int
	// Priority is prioritaet: higher is composed first (enhancements A4).
	Priority int
}

// searchColumns is the select list that scanSearch reads; s is the
// platzsuche row, c the lateral count of its entries.
const searchColumns = `s.id, s.patient_id, s.status::text, s.created_at, s.updated_at,
	s.ausgeschlossene_therapeuten, s.gesamt_angeforderte_kontakte,
	s.erfolgreiche_vermittlung_datum, s.notizen, c.aktive, c.gesamt,
	CASE WHEN jsonb_typeof(s.ausgeschlossene_therapeuten) = 'array'
	     THEN jsonb_array_length(s.ausgeschlossene_therapeuten) ELSE 0 END,
	s.prioritaet`

// searchCounts counts a search's entries; it uses the index on
// therapeut_anfrage_patient (platzsuche_id).
const searchCounts = `LEFT JOIN LATERAL (
	SELECT count(*) FILTER (WHERE e.status = 'anstehend') AS aktive, count(*) AS gesamt
	FROM matching_service.therapeut_anfrage_patient e
	WHERE e.platzsuche_id = s.id) c ON true`

func scanSearch(row pgx.Row) (Search, error) {
	var s Search
	var excl []byte
	err := row.Scan(&s.ID, &s.PatientID, &s.Status, &s.CreatedAt, &s.UpdatedAt,
		&excl, &s.ContactCount, &s.SuccessfulAt, &s.Notes,
		&s.ActiveAnfragen, &s.TotalAnfragen, &s.ExclusionListLength, &s.Priority)
	s.Exclusions = json.RawMessage(excl)
	return s, err
}

// CreateSearch inserts an aktiv search for patientID with the given notes.
// When the patient already has an aktiv search, nothing is inserted and the
// error is the one-active-search refusal (see ErrOneActiveSearch). The
// partial unique index uq_platzsuche_one_active_per_patient decides: ON
// CONFLICT DO NOTHING waits for a concurrent insert of the same patient to
// commit, and the second statement then sees its row, so two concurrent
// requests create one search.
func CreateSearch(ctx context.Context, db DB, patientID int64, notes *string, at time.Time) (Search, error) {
	var s Search
	err := db.QueryRow(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status, created_at, ausgeschlossene_therapeuten, gesamt_angeforderte_kontakte, notizen)
		VALUES ($1, 'aktiv', $2, '[]'::jsonb, 0, $3)
		ON CONFLICT (patient_id) WHERE status = 'aktiv' DO NOTHING
		RETURNING id, patient_id, status::text, created_at`, patientID, at, notes).Scan(&s.ID, &s.PatientID, &s.Status, &s.CreatedAt)
	if err == nil {
		s.Exclusions = json.RawMessage("[]")
		s.Notes = notes
		return s, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Search{}, fmt.Errorf("insert platzsuche: %w", err)
	}
	var existing int64
	err = db.QueryRow(ctx, `
		SELECT id FROM matching_service.platzsuche
		WHERE patient_id = $1 AND status = 'aktiv'`, patientID).Scan(&existing)
	if err != nil {
		return Search{}, fmt.Errorf("find active platzsuche of patient %d: %w", patientID, err)
	}
	return Search{}, activeSearchExists(existing)
}

// ErrOneActiveSearch is in the chain of the error that refuses a second
// aktiv search for a patient, on creation (CreateSearch) and on resumption
// (SetSearchStatus) alike: a fault.Conflict "Patient already has an active
// search" whose search_id names the patient's aktiv search. The partial
// unique index uq_platzsuche_one_active_per_patient is the rule; this
// package is the one place that recognises it.
var ErrOneActiveSearch = errors.New("one aktiv search per patient")

func activeSearchExists(searchID int64) error {
	return fault.Conflictf("Patient already has an active search").With("search_id", searchID).Wrap(ErrOneActiveSearch)
}

// GetSearch reads search id with its counts; a search that does not exist
// is a fault.NotFound "Patient search {id} not found".
func GetSearch(ctx context.Context, db DB, id int64) (Search, error) {
	return getSearch(ctx, db, id, "")
}

// LockSearch reads search id like GetSearch and locks its row until the
// transaction ends, so that a status change is checked against the status it
// replaces.
func LockSearch(ctx context.Context, tx pgx.Tx, id int64) (Search, error) {
	return getSearch(ctx, tx, id, "FOR UPDATE OF s")
}

func getSearch(ctx context.Context, db DB, id int64, lock string) (Search, error) {
	s, err := scanSearch(db.QueryRow(ctx, `SELECT `+searchColumns+`
		FROM matching_service.platzsuche s `+searchCounts+`
		WHERE s.id = $1 `+lock, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return Search{}, searchNotFound(id)
	}
	if err != nil {
		return Search{}, fmt.Errorf("read platzsuche %d: %w", id, err)
	}
	return s, nil
}

func searchNotFound(id int64) error { return fault.NotFoundf("Patient search %d not found", id) }

// oneActiveSearchIndex is the partial unique index that allows one aktiv
// search per patient.
const oneActiveSearchIndex = "uq_platzsuche_one_active_per_patient"

// SearchFilter selects searches for ListSearches. Nil fields do not filter;
// a zero value does (patient_id=0 finds nothing, min_anfragen=0 keeps all).
type SearchFilter struct {
	Status      *string
	PatientID   *int64
	MinAnfragen *int // on TotalAnfragen
	MaxAnfragen *int
	Limit       int
	Offset      int
}

// ListSearches returns one page of the searches matching f, newest first
// (ties by id), and the number of all matching searches. Every filter,
// including the anfrage counts, applies before the page is cut, so total
// covers the whole filtered set.
func ListSearches(ctx context.Context, db DB, f SearchFilter) ([]Search, int, error) {
	rows, err := db.Query(ctx, `
		WITH filtered AS MATERIALIZED (
			SELECT `+searchColumns+`
			FROM matching_service.platzsuche s `+searchCounts+`
			WHERE ($1::text IS NULL OR s.status::text = $1)
			  AND ($2::int IS NULL OR s.patient_id = $2)
			  AND ($3::int IS NULL OR c.gesamt >= $3)
			  AND ($4::int IS NULL OR c.gesamt <= $4)
		)
		SELECT t.total, p.*
		FROM (SELECT count(*) AS total FROM filtered) t
		LEFT JOIN LATERAL (
			SELECT * FROM filtered ORDER BY created_at DESC, id DESC LIMIT $5 OFFSET $6
		) p ON true`,
		f.Status, f.PatientID, f.MinAnfragen, f.MaxAnfragen, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list platzsuchen: %w", err)
	}
	defer rows.Close()
	var (
		out   []Search
		total int
	)
	for rows.Next() {
		var (
			id       *int64
			patient  *int64
			status   *string
			created  *time.Time
			updated  *time.Time
			excl     []byte
			contacts *int
			success  *time.Time
			notes    *string
			active   *int
			all      *int
			exclLen  *int
			priority *int
		)
		if err := rows.Scan(&total, &id, &patient, &status, &created, &updated, &excl, &contacts, &success, &notes, &active, &all, &exclLen, &priority); err != nil {
			return nil, 0, fmt.Errorf("list platzsuchen: %w", err)
		}
		if id == nil { // the page is empty
			continue
		}
		out = append(out, Search{
			ID: *id, PatientID: *patient, Status: *status, CreatedAt: *created, UpdatedAt: updated,
			Exclusions: json.RawMessage(excl), ContactCount: *contacts, SuccessfulAt: success, Notes: notes,
			ActiveAnfragen: *active, TotalAnfragen: *all, ExclusionListLength: *exclLen, Priority: *priority,
		})
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list platzsuchen: %w", err)
	}
	return out, total, nil
}

// SetSearchStatus moves search id to status and sets updated_at to at;
// successfulAt, when set, becomes erfolgreiche_vermittlung_datum. The caller
// checks the transition. A search that becomes aktiv while the patient has
// another aktiv search is refused with the one-active-search error (see
// ErrOneActiveSearch): its UPDATE runs in a savepoint, so that the
// transaction survives the index's violation and can name the other search.
// A concurrent resumption or creation for the same patient makes the UPDATE
// wait for its commit and then see it.
func SetSearchStatus(ctx context.Context, tx pgx.Tx, id int64, status string, successfulAt *time.Time, at time.Time) error {
	update := func(db DB) error {
		_, err := db.Exec(ctx, `
			UPDATE matching_service.platzsuche SET
				status = $2::text::public.suchstatus,
				erfolgreiche_vermittlung_datum = COALESCE($3, erfolgreiche_vermittlung_datum),
				updated_at = $4
			WHERE id = $1`, id, status, successfulAt, at)
		return err
	}
	if status != "aktiv" {
		if err := update(tx); err != nil {
			return fmt.Errorf("set status of platzsuche %d: %w", id, err)
		}
		return nil
	}
	err := pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) error { return update(sp) })
	if !IsUniqueViolation(err, oneActiveSearchIndex) {
		if err != nil {
			return fmt.Errorf("set status of platzsuche %d: %w", id, err)
		}
		return nil
	}
	var other int64
	if err := tx.QueryRow(ctx, `
		SELECT o.id FROM matching_service.platzsuche s
		JOIN matching_service.platzsuche o ON o.patient_id = s.patient_id AND o.status = 'aktiv' AND o.id <> s.id
		WHERE s.id = $1`, id).Scan(&other); err != nil {
		return fmt.Errorf("find the other active platzsuche of platzsuche %d: %w", id, err)
	}
	return activeSearchExists(other)
}

// SearchUpdate is what PUT /api/platzsuchen/{id} edits besides the status;
// nil fields stay.
type SearchUpdate struct {
	// Notes replaces the whole notes text ("" clears it).
	Notes      *string
	Exclusions json.RawMessage
	// Priority, when set, replaces prioritaet.
	Priority *int
}

// UpdateSearch applies u to search id and sets updated_at to at.
func UpdateSearch(ctx context.Context, db DB, id int64, u SearchUpdate, at time.Time) error {
	var excl []byte
	if u.Exclusions != nil {
		excl = u.Exclusions
	}
	_, err := db.Exec(ctx, `
		UPDATE matching_service.platzsuche SET
			notizen = CASE WHEN $2::boolean THEN $3::text ELSE notizen END,
			ausgeschlossene_therapeuten = COALESCE($4::jsonb, ausgeschlossene_therapeuten),
			prioritaet = COALESCE($6::int, prioritaet),
			updated_at = $5
		WHERE id = $1`,
		id, u.Notes != nil, deref(u.Notes), excl, at, u.Priority)
	if err != nil {
		return fmt.Errorf("update platzsuche %d: %w", id, err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// AddContacts adds n to the search's requested-contacts counter, replaces its
// notes and returns the counter before and after.
func AddContacts(ctx context.Context, db DB, id int64, n int, notes string, at time.Time) (before, after int, err error) {
	err = db.QueryRow(ctx, `
		UPDATE matching_service.platzsuche
		SET gesamt_angeforderte_kontakte = gesamt_angeforderte_kontakte + $2, notizen = $3, updated_at = $4
		WHERE id = $1
		RETURNING gesamt_angeforderte_kontakte - $2, gesamt_angeforderte_kontakte`, id, n, notes, at).Scan(&before, &after)
	if err != nil {
		return 0, 0, fmt.Errorf("add contacts to platzsuche %d: %w", id, err)
	}
	return before, after, nil
}

// DeleteSearch deletes search id and its anfrage entries and returns the ids
// of the anfragen that lost an entry (ascending), for the caller to make them
// consistent again with CompactAnfragen. A search that does not exist is a
// fault.NotFound "Patient search {id} not found".
func DeleteSearch(ctx context.Context, tx pgx.Tx, id int64) (anfragen []int64, err error) {
	// Lock the affected anfragen first, in id order, so that a concurrent
	// send or response on one of them is not interleaved with the shrinking.
	rows, err := tx.Query(ctx, `
		SELECT a.id FROM matching_service.therapeutenanfrage a
		WHERE a.id IN (SELECT e.therapeutenanfrage_id FROM matching_service.therapeut_anfrage_patient e WHERE e.platzsuche_id = $1)
		ORDER BY a.id
		FOR UPDATE OF a`, id)
	if err != nil {
		return nil, fmt.Errorf("lock anfragen of platzsuche %d: %w", id, err)
	}
	anfragen, err = pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("lock anfragen of platzsuche %d: %w", id, err)
	}
	// The entries go with the search (ON DELETE CASCADE).
	tag, err := tx.Exec(ctx, `DELETE FROM matching_service.platzsuche WHERE id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("delete platzsuche %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return nil, searchNotFound(id)
	}
	return anfragen, nil
}

// AddExclusion appends entry (a JSON object with an "id") to the exclusion
// list of each of the searches unless the therapist is already in it, as an
// integer or as an object's id. It is one statement on the JSONB column, so
// concurrent additions of different therapists to one list do not overwrite
// each other (the row lock of the UPDATE serialises them, and the NOT EXISTS
// is re-evaluated on the latest row version).
func AddExclusion(ctx context.Context, db DB, searchIDs []int64, therapistID int64, entry json.RawMessage, at time.Time) (int64, error) {
	if len(searchIDs) == 0 {
		return 0, nil
	}
	tag, err := db.Exec(ctx, `
		UPDATE matching_service.platzsuche s
		SET ausgeschlossene_therapeuten =
		        CASE WHEN jsonb_typeof(s.ausgeschlossene_therapeuten) = 'array'
		             THEN s.ausgeschlossene_therapeuten ELSE '[]'::jsonb END || jsonb_build_array($3::jsonb),
		    updated_at = $4
		WHERE s.id = ANY($1)
		  AND NOT EXISTS (
		      SELECT 1 FROM jsonb_array_elements(
		          CASE WHEN jsonb_typeof(s.ausgeschlossene_therapeuten) = 'array'
		               THEN s.ausgeschlossene_therapeuten ELSE '[]'::jsonb END) el
		      WHERE el = to_jsonb($2::bigint) OR el -> 'id' = to_jsonb($2::bigint))`,
		searchIDs, therapistID, []byte(entry), at)
	if err != nil {
		return 0, fmt.Errorf("add therapist %d to exclusion lists: %w", therapistID, err)
	}
	return tag.RowsAffected(), nil
}

// StatusChange is one search whose status changed, for search.status_changed.
type StatusChange struct {
	SearchID  int64
	PatientID int64
	OldStatus string
	NewStatus string
}

// CompleteSearches moves those of the searches that are aktiv or pausiert to
// erfolgreich with erfolgreiche_vermittlung_datum at, and returns the changes
// in search id order. Searches already erfolgreich or abgebrochen stay.
func CompleteSearches(ctx context.Context, db DB, searchIDs []int64, at time.Time) ([]StatusChange, error) {
	if len(searchIDs) == 0 {
		return nil, nil
	}
	// The CTE locks the rows and keeps their old status: UPDATE … FROM
	// reads "old" from the statement's snapshot, before the update.
	rows, err := db.Query(ctx, `
		WITH old AS (
			SELECT id, status FROM matching_service.platzsuche
			WHERE id = ANY($1) AND status IN ('aktiv', 'pausiert')
			ORDER BY id
			FOR UPDATE
		)
		UPDATE matching_service.platzsuche s
		SET status = 'erfolgreich', erfolgreiche_vermittlung_datum = $2, updated_at = $2
		FROM old WHERE s.id = old.id
		RETURNING s.id, s.patient_id, old.status::text`, searchIDs, at)
	if err != nil {
		return nil, fmt.Errorf("complete platzsuchen: %w", err)
	}
	changes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (StatusChange, error) {
		c := StatusChange{NewStatus: "erfolgreich"}
		err := r.Scan(&c.SearchID, &c.PatientID, &c.OldStatus)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("complete platzsuchen: %w", err)
	}
	slices.SortFunc(changes, func(a, b StatusChange) int { return cmp.Compare(a.SearchID, b.SearchID) })
	return changes, nil
}
