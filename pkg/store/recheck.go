package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
)

// This file holds the SQL of the re-checks of unsent anfragen (enhancements
// A3): the durable requests a changed copy writes, and the changes a
// re-check makes to an anfrage's patients.

// Recheck asks for the unsent anfragen of one patient or one therapist to
// be re-checked against the hard constraints.
type Recheck struct {
	ID          int64
	PatientID   int64 // 0 when TherapistID is set
	TherapistID int64
	Cause       string
	Attempts    int
}

// RequestRecheck writes a re-check request in the caller's transaction (the
// one that changed the copy). Exactly one of patientID and therapistID is
// set.
func RequestRecheck(ctx context.Context, tx pgx.Tx, patientID, therapistID int64, cause string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `
		INSERT INTO matching_service.recheck_request (patient_id, therapist_id, cause)
		VALUES (NULLIF($1, 0), NULLIF($2, 0), $3) RETURNING id`, patientID, therapistID, cause).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("request re-check: %w", err)
	}
	return id, nil
}

const recheckColumns = `id, COALESCE(patient_id, 0), COALESCE(therapist_id, 0), cause, attempts`

// PendingRechecks lists up to limit waiting requests with an id above
// after that have waited at least olderThan (on the database's clock),
// oldest first.
func PendingRechecks(ctx context.Context, db DB, olderThan time.Duration, after int64, limit int) ([]Recheck, error) {
	rows, err := db.Query(ctx, `
		SELECT `+recheckColumns+` FROM matching_service.recheck_request
		WHERE requested_at <= clock_timestamp() - $1 * interval '1 second' AND id > $2
		ORDER BY id LIMIT $3`, olderThan.Seconds(), after, limit)
	if err != nil {
		return nil, fmt.Errorf("pending re-checks: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Recheck])
}

// Rechecks reads the requests ids that still wait, by id.
func Rechecks(ctx context.Context, db DB, ids []int64) ([]Recheck, error) {
	rows, err := db.Query(ctx, `
		SELECT `+recheckColumns+` FROM matching_service.recheck_request
		WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("re-checks: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[Recheck])
}

// TakeRecheck deletes request id in the transaction that applies it and
// reports whether it was still there: of two processes applying the same
// request, the second waits for the first's row lock and then finds it
// gone.
func TakeRecheck(ctx context.Context, tx pgx.Tx, id int64) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM matching_service.recheck_request WHERE id = $1`, id)
	if err != nil {
		return false, fmt.Errorf("take re-check %d: %w", id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// FailRecheck counts a failed attempt of request id and keeps its error
// for the operator; the request stays for the next sweep.
func FailRecheck(ctx context.Context, db DB, id int64, reason string) error {
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.recheck_request
		SET attempts = attempts + 1, last_error = left($2, 1000)
		WHERE id = $1`, id, reason); err != nil {
		return fmt.Errorf("record failed re-check %d: %w", id, err)
	}
	return nil
}

// unsentAnfrage is an anfrage that can still change: not sent, not
// answered, not cancelled.
const unsentAnfrage = `a.gesendet_datum IS NULL AND a.antwort_datum IS NULL AND a.storniert_datum IS NULL`

// UnsentAnfragenOf lists, in id order, the unsent anfragen that hold the
// patient (patientID) or go to the therapist (therapistID).
func UnsentAnfragenOf(ctx context.Context, db DB, patientID, therapistID int64) ([]int64, error) {
	rows, err := db.Query(ctx, `
		SELECT a.id FROM matching_service.therapeutenanfrage a
		WHERE `+unsentAnfrage+`
		  AND (a.therapist_id = $2
		       OR a.id IN (SELECT e.therapeutenanfrage_id FROM matching_service.therapeut_anfrage_patient e
		                   WHERE e.patient_id = $1))
		ORDER BY a.id`, patientID, therapistID)
	if err != nil {
		return nil, fmt.Errorf("unsent anfragen: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// LockUnsentAnfrage locks anfrage id for a re-check and reads it; ok is
// false when it is gone or no longer unsent (sent, answered or cancelled
// since), and then nothing may change it. An anfrage a sender holds a live
// claim on (its letter is being made from the patients it holds) is a
// fault.Unavailable error: the re-check waits for the send to end, and is
// tried again (then finds it sent, or the claim released).
func LockUnsentAnfrage(ctx context.Context, tx pgx.Tx, id int64) (a Anfrage, ok bool, err error) {
	a, err = LockAnfrage(ctx, tx, id)
	if fault.KindOf(err) == fault.NotFound {
		return Anfrage{}, false, nil
	}
	if err != nil {
		return Anfrage{}, false, err
	}
	if a.SentAt != nil || a.RespondedAt != nil || a.CancelledAt != nil {
		return a, false, nil
	}
	var sending bool
	if err := tx.QueryRow(ctx, `
		SELECT claim_token IS NOT NULL AND claim_until > now()
		FROM matching_service.therapeutenanfrage WHERE id = $1`, id).Scan(&sending); err != nil {
		return Anfrage{}, false, fmt.Errorf("is anfrage %d being sent: %w", id, err)
	}
	if sending {
		return Anfrage{}, false, fault.Unavailablef("Anfrage %d is being sent; its re-check waits", id)
	}
	return a, true, nil
}

// AnfragePrefix returns the PLZ prefix anfrage id was composed for, "" for
// an anfrage composed before the prefix was stored.
func AnfragePrefix(ctx context.Context, db DB, id int64) (string, error) {
	var p *string
	if err := db.QueryRow(ctx, `SELECT plz_prefix FROM matching_service.therapeutenanfrage WHERE id = $1`, id).Scan(&p); err != nil {
		return "", fmt.Errorf("prefix of anfrage %d: %w", id, err)
	}
	return deref(p), nil
}

// SetAnfragePrefix records the PLZ prefix anfrage id was composed for.
func SetAnfragePrefix(ctx context.Context, db DB, id int64, prefix string) error {
	if _, err := db.Exec(ctx, `UPDATE matching_service.therapeutenanfrage SET plz_prefix = $2 WHERE id = $1`, id, prefix); err != nil {
		return fmt.Errorf("set prefix of anfrage %d: %w", id, err)
	}
	return nil
}

// RemoveAnfrageEntries deletes the entries (by entry id) of anfrage id; the
// caller then closes the positions up with CompactAnfragen.
func RemoveAnfrageEntries(ctx context.Context, tx pgx.Tx, id int64, entryIDs []int64) error {
	if _, err := tx.Exec(ctx, `
		DELETE FROM matching_service.therapeut_anfrage_patient
		WHERE therapeutenanfrage_id = $1 AND id = ANY($2)`, id, entryIDs); err != nil {
		return fmt.Errorf("remove patients from anfrage %d: %w", id, err)
	}
	return nil
}

// AddAnfrageEntries appends the searches to anfrage id after its last
// position, in the given order, as anstehend entries created at at. Only
// searches still aktiv are added (their rows share-locked until commit, as
// InsertAnfrage does); it returns the patient ids added, in order.
func AddAnfrageEntries(ctx context.Context, tx pgx.Tx, id int64, searchIDs []int64, at time.Time) ([]int64, error) {
	if len(searchIDs) == 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `
		WITH live AS (
			SELECT s.id, s.patient_id FROM matching_service.platzsuche s
			WHERE s.id = ANY($2) AND s.status = 'aktiv'
			ORDER BY s.id
			FOR SHARE),
		wanted AS (
			SELECT l.id, l.patient_id, v.ord
			FROM unnest($2::int[]) WITH ORDINALITY AS v(search_id, ord)
			JOIN live l ON l.id = v.search_id),
		base AS (
			SELECT COALESCE(max(position_in_anfrage), 0) AS n
			FROM matching_service.therapeut_anfrage_patient WHERE therapeutenanfrage_id = $1)
		INSERT INTO matching_service.therapeut_anfrage_patient
		       (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage, status, created_at)
		SELECT $1, w.id, w.patient_id, base.n + row_number() OVER (ORDER BY w.ord), 'anstehend', $3
		FROM wanted w, base
		ORDER BY w.ord
		RETURNING position_in_anfrage, patient_id`, id, searchIDs, at)
	if err != nil {
		return nil, fmt.Errorf("add patients to anfrage %d: %w", id, err)
	}
	type added struct{ pos, patient int64 }
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (added, error) {
		var a added
		err := r.Scan(&a.pos, &a.patient)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("add patients to anfrage %d: %w", id, err)
	}
	// RETURNING follows no particular order; the positions do.
	out := make([]int64, len(list))
	minPos := int64(0)
	for i, a := range list {
		if i == 0 || a.pos < minPos {
			minPos = a.pos
		}
	}
	for _, a := range list {
		out[a.pos-minPos] = a.patient
	}
	return out, nil
}

// NoteAnfrage appends note to the notes of anfrage id (joined with a
// newline, as add_note does).
func NoteAnfrage(ctx context.Context, db DB, id int64, note string) error {
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET notizen = CASE WHEN coalesce(notizen, '') = '' THEN $2 ELSE notizen || E'\n' || $2 END
		WHERE id = $1`, id, note); err != nil {
		return fmt.Errorf("note anfrage %d: %w", id, err)
	}
	return nil
}

// SearchExclusions reads the exclusion lists (ausgeschlossene_therapeuten)
// of the searches.
func SearchExclusions(ctx context.Context, db DB, searchIDs []int64) (map[int64]json.RawMessage, error) {
	rows, err := db.Query(ctx, `
		SELECT id, ausgeschlossene_therapeuten FROM matching_service.platzsuche WHERE id = ANY($1)`, searchIDs)
	if err != nil {
		return nil, fmt.Errorf("exclusion lists: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]json.RawMessage, len(searchIDs))
	for rows.Next() {
		var id int64
		var excl []byte
		if err := rows.Scan(&id, &excl); err != nil {
			return nil, fmt.Errorf("exclusion lists: %w", err)
		}
		out[id] = json.RawMessage(excl)
	}
	return out, rows.Err()
}
