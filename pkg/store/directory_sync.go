package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the SQL directory-sync and the copy's scope need: who is
// copied, what the copy may forget, and the record of complete syncs.

// PatientInScope reports whether matching keeps a copy of the patient: she
// has an aktiv or pausiert search, or a copy already.
func PatientInScope(ctx context.Context, db DB, patientID int64) (bool, error) {
	var in bool
	err := db.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM matching_service.platzsuche
		               WHERE patient_id = $1 AND status IN ('aktiv', 'pausiert'))
		    OR EXISTS (SELECT 1 FROM matching_service.patient_copy
		               WHERE patient_id = $1 AND NOT removed)`, patientID).Scan(&in)
	if err != nil {
		return false, fmt.Errorf("is patient %d in the copy: %w", patientID, err)
	}
	return in, nil
}

// PatientsWithOpenSearch lists, in id order, the patients with an aktiv or
// pausiert search: the patients directory-sync fetches.
func PatientsWithOpenSearch(ctx context.Context, db DB) ([]int64, error) {
	rows, err := db.Query(ctx, `
		SELECT DISTINCT patient_id FROM matching_service.platzsuche
		WHERE status IN ('aktiv', 'pausiert') ORDER BY patient_id`)
	if err != nil {
		return nil, fmt.Errorf("patients with an open search: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// LiveTherapistCopies lists the ids of the therapists the copy holds (not
// removed), with the time each was fetched.
func LiveTherapistCopies(ctx context.Context, db DB) (map[int64]time.Time, error) {
	rows, err := db.Query(ctx, `
		SELECT therapist_id, fetched_at FROM matching_service.therapist_copy WHERE NOT removed`)
	if err != nil {
		return nil, fmt.Errorf("copied therapists: %w", err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			return nil, fmt.Errorf("copied therapists: %w", err)
		}
		out[id] = at
	}
	return out, rows.Err()
}

// tombstoneAge is how long a removal is kept as a tombstone: far longer
// than any fetch can be in flight (NEIGHBOUR_TIMEOUT).
const tombstoneAge = time.Hour

// PruneCopies deletes what the copy no longer needs: the copies of patients
// without an aktiv or pausiert search (they are out of its scope; a new
// search fetches the patient again) and tombstones older than an hour. It
// returns how many live patient copies it deleted.
func PruneCopies(ctx context.Context, db DB) (int64, error) {
	tag, err := db.Exec(ctx, `
		DELETE FROM matching_service.patient_copy c
		WHERE NOT c.removed
		  AND NOT EXISTS (SELECT 1 FROM matching_service.platzsuche s
		                  WHERE s.patient_id = c.patient_id AND s.status IN ('aktiv', 'pausiert'))`)
	if err != nil {
		return 0, fmt.Errorf("prune patient copies: %w", err)
	}
	for _, table := range []string{"patient_copy", "therapist_copy"} {
		if _, err := db.Exec(ctx, `DELETE FROM matching_service.`+table+`
			WHERE removed AND fetched_at < clock_timestamp() - $1 * interval '1 second'`, tombstoneAge.Seconds()); err != nil {
			return 0, fmt.Errorf("prune %s tombstones: %w", table, err)
		}
	}
	return tag.RowsAffected(), nil
}

// DirectorySynced reports whether a directory-sync has ever read the whole
// therapist list: from then on the copy holds every therapist.
func DirectorySynced(ctx context.Context, db DB) (bool, error) {
	var ok bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM matching_service.directory_sync)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("has the directory been synced: %w", err)
	}
	return ok, nil
}

// SyncRun is the summary of one directory-sync run.
type SyncRun struct {
	StartedAt                         time.Time
	Checked, Changed, Removed, Failed int
}

// RecordSync records a run of directory-sync that read the whole therapist
// list.
func RecordSync(ctx context.Context, db DB, r SyncRun) error {
	if _, err := db.Exec(ctx, `
		INSERT INTO matching_service.directory_sync (started_at, checked, changed, removed, failed)
		VALUES ($1, $2, $3, $4, $5)`, r.StartedAt, r.Checked, r.Changed, r.Removed, r.Failed); err != nil {
		return fmt.Errorf("record directory sync: %w", err)
	}
	return nil
}
