package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the SQL of the cascades that events from other services
// trigger: a deleted patient, a blocked therapist, a sent email. Each is a
// few set-based statements whatever the number of rows, run inside the
// inbox transaction of the event (see pkg/inbox). Timestamps are naive UTC,
// like the reference's columns: callers pass at in UTC.

// CancelledSearch is a search cancelled by CancelPatientSearches, with the
// status it had before.
type CancelledSearch struct {
	ID        int64
	PatientID int64
	OldStatus string
}

// CancelPatientSearches moves every aktiv and pausiert search of the patient
// to abgebrochen, sets updated_at to at and appends note to its notes (joined
// with a newline, as add_note does). Anfragen are left as they are. It
// returns the cancelled searches, by id.
func CancelPatientSearches(ctx context.Context, tx pgx.Tx, patientID int64, note string, at time.Time) ([]CancelledSearch, error) {
	rows, err := tx.Query(ctx, cancelPatientSearches, patientID, at, note)
	return cancelledSearches(rows, err, patientID)
}

// QueueCancelPatientSearches queues CancelPatientSearches's statement on b
// (a batch of statements sent together inside a transaction) and returns
// how to read its result, in the order the batch's results come back.
func QueueCancelPatientSearches(b *pgx.Batch, patientID int64, note string, at time.Time) func(pgx.BatchResults) ([]CancelledSearch, error) {
	b.Queue(cancelPatientSearches, patientID, at, note)
	return func(br pgx.BatchResults) ([]CancelledSearch, error) {
		rows, err := br.Query()
		return cancelledSearches(rows, err, patientID)
	}
}

// cancelPatientSearches is the statement of CancelPatientSearches.
// RETURNING shows only the new row, so the old status comes from the
// locking subselect. FOR UPDATE makes a concurrent status change either
// finish first (and be re-read here) or wait for this transaction.
const cancelPatientSearches = `
	UPDATE matching_service.platzsuche s
	SET status = 'abgebrochen',
	    updated_at = $2,
	    notizen = CASE WHEN coalesce(s.notizen, '') = '' THEN $3 ELSE s.notizen || E'\n' || $3 END
	FROM (SELECT id, status
	      FROM matching_service.platzsuche
	      WHERE patient_id = $1 AND status IN ('aktiv', 'pausiert')
	      FOR UPDATE) old
	WHERE s.id = old.id AND s.status IN ('aktiv', 'pausiert')
	RETURNING s.id, s.patient_id, old.status::text`

func cancelledSearches(rows pgx.Rows, err error, patientID int64) ([]CancelledSearch, error) {
	if err != nil {
		return nil, fmt.Errorf("cancel searches of patient %d: %w", patientID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CancelledSearch])
	if err != nil {
		return nil, fmt.Errorf("cancel searches of patient %d: %w", patientID, err)
	}
	sortByID(out, func(c CancelledSearch) int64 { return c.ID })
	return out, nil
}

// ExcludeTherapistFromOpenAnfragen appends entry (a JSON object
// {"id", "excluded_at", "reason"}) to the exclusion list of every aktiv or
// pausiert search that has a patient in an open anfrage of the therapist:
// one not cancelled and either unsent or sent and unanswered. A list that
// already names the therapist, as an integer or as an object's id, is left
// alone. A changed search gets updated_at = at. It returns the ids of the
// searches it changed.
//
// Call it before CancelUnsentAnfragen: the anfragen that statement cancels
// are open until then and their searches must be excluded too.
func ExcludeTherapistFromOpenAnfragen(ctx context.Context, tx pgx.Tx, therapistID int64, entry []byte, at time.Time) ([]int64, error) {
	// The searches are locked in id order first: blocks of different
	// therapists touch overlapping searches, and a common lock order keeps
	// them from deadlocking. Under the lock the containment tests see the
	// current list, so two writers never both append the same id. jsonb
	// compares numbers by value: 7 and 7.0 are the same id.
	rows, err := tx.Query(ctx, `
		WITH targets AS (
		    SELECT s.id
		    FROM matching_service.platzsuche s
		    WHERE s.status IN ('aktiv', 'pausiert')
		      AND s.id IN (
		          SELECT e.platzsuche_id
		          FROM matching_service.therapeut_anfrage_patient e
		          JOIN matching_service.therapeutenanfrage a ON a.id = e.therapeutenanfrage_id
		          WHERE a.therapist_id = $1
		            AND a.storniert_datum IS NULL
		            AND (a.gesendet_datum IS NULL OR a.antwort_datum IS NULL))
		    ORDER BY s.id
		    FOR UPDATE OF s)
		UPDATE matching_service.platzsuche s
		SET ausgeschlossene_therapeuten = s.ausgeschlossene_therapeuten || jsonb_build_array($2::jsonb),
		    updated_at = $3
		FROM targets t
		WHERE s.id = t.id
		  AND s.status IN ('aktiv', 'pausiert')
		  AND NOT s.ausgeschlossene_therapeuten @> jsonb_build_array($1::int)
		  AND NOT s.ausgeschlossene_therapeuten @> jsonb_build_array(jsonb_build_object('id', $1::int))
		RETURNING s.id`,
		therapistID, entry, at)
	if err != nil {
		return nil, fmt.Errorf("exclude therapist %d: %w", therapistID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("exclude therapist %d: %w", therapistID, err)
	}
	sortByID(ids, func(id int64) int64 { return id })
	return ids, nil
}

// CancelUnsentAnfragen cancels every unsent anfrage of the therapist that is
// not cancelled yet: storniert_datum = at, storniert_grund = reason, and note
// appended to its notes. It returns the ids of the cancelled anfragen.
func CancelUnsentAnfragen(ctx context.Context, tx pgx.Tx, therapistID int64, reason, note string, at time.Time) ([]int64, error) {
	// idx_therapeutenanfrage_therapist_id finds the therapist's anfragen;
	// the row locks of the UPDATE serialise it with a concurrent send,
	// which re-checks gesendet_datum / storniert_datum under the lock.
	rows, err := tx.Query(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET storniert_datum = $2,
		    storniert_grund = $3,
		    notizen = CASE WHEN coalesce(notizen, '') = '' THEN $4 ELSE notizen || E'\n' || $4 END
		WHERE therapist_id = $1 AND gesendet_datum IS NULL AND storniert_datum IS NULL
		RETURNING id`,
		therapistID, at, reason, note)
	if err != nil {
		return nil, fmt.Errorf("cancel unsent anfragen of therapist %d: %w", therapistID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("cancel unsent anfragen of therapist %d: %w", therapistID, err)
	}
	sortByID(ids, func(id int64) int64 { return id })
	return ids, nil
}

// NoteAnfragenByEmail appends note to the notes of every anfrage whose
// email_id is emailID (normally one; idx_therapeutenanfrage_email_id) and
// returns their ids.
func NoteAnfragenByEmail(ctx context.Context, tx pgx.Tx, emailID int64, note string) ([]int64, error) {
	rows, err := tx.Query(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET notizen = CASE WHEN coalesce(notizen, '') = '' THEN $2 ELSE notizen || E'\n' || $2 END
		WHERE email_id = $1
		RETURNING id`,
		emailID, note)
	if err != nil {
		return nil, fmt.Errorf("note anfragen of email %d: %w", emailID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("note anfragen of email %d: %w", emailID, err)
	}
	sortByID(ids, func(id int64) int64 { return id })
	return ids, nil
}

// sortByID orders rows by id so that the events emitted for them come out
// in a stable order (RETURNING follows no particular order).
func sortByID[T any](rows []T, id func(T) int64) {
	slices.SortFunc(rows, func(a, b T) int { return cmp.Compare(id(a), id(b)) })
}
