package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Cooling is a therapist's row of matching_service.therapeut_kontaktsperre:
// the therapist is not contacted before Date (YYYY-MM-DD). Reason is
// response_received or manual; Note is the free text of a manual period.
type Cooling struct {
	TherapistID int64
	Date        string
	Reason      string
	Note        *string
	UpdatedAt   time.Time
}

const coolingColumns = `therapist_id, to_char(naechster_kontakt_moeglich, 'YYYY-MM-DD'), grund, notiz, updated_at`

func scanCooling(row pgx.Row) (Cooling, error) {
	var c Cooling
	err := row.Scan(&c.TherapistID, &c.Date, &c.Reason, &c.Note, &c.UpdatedAt)
	return c, err
}

// GetCooling reads the therapist's cooling row; nil when matching never set one.
func GetCooling(ctx context.Context, db DB, therapistID int64) (*Cooling, error) {
	c, err := scanCooling(db.QueryRow(ctx, `SELECT `+coolingColumns+`
		FROM matching_service.therapeut_kontaktsperre WHERE therapist_id = $1`, therapistID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cooling of therapist %d: %w", therapistID, err)
	}
	return &c, nil
}

// CoolingDates returns the cooling dates (YYYY-MM-DD) matching holds for the
// therapists; therapists without a row are absent.
func CoolingDates(ctx context.Context, db DB, therapistIDs []int64) (map[int64]string, error) {
	rows, err := db.Query(ctx, `
		SELECT therapist_id, to_char(naechster_kontakt_moeglich, 'YYYY-MM-DD')
		FROM matching_service.therapeut_kontaktsperre WHERE therapist_id = ANY($1)`, therapistIDs)
	if err != nil {
		return nil, fmt.Errorf("cooling dates: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]string)
	for rows.Next() {
		var id int64
		var d string
		if err := rows.Scan(&id, &d); err != nil {
			return nil, fmt.Errorf("cooling dates: %w", err)
		}
		out[id] = d
	}
	return out, rows.Err()
}

// ExtendCooling starts a cooling period after a response: the therapist's
// date becomes date unless matching already holds a later one (a manual
// period reaching further is not shortened). It returns the row as stored.
func ExtendCooling(ctx context.Context, db DB, therapistID int64, date string, at time.Time) (Cooling, error) {
	c, err := scanCooling(db.QueryRow(ctx, `
		INSERT INTO matching_service.therapeut_kontaktsperre AS k (therapist_id, naechster_kontakt_moeglich, grund, notiz, updated_at)
		VALUES ($1, $2::text::date, 'response_received', NULL, $3)
		ON CONFLICT (therapist_id) DO UPDATE SET
			naechster_kontakt_moeglich = GREATEST(k.naechster_kontakt_moeglich, EXCLUDED.naechster_kontakt_moeglich),
			grund  = CASE WHEN EXCLUDED.naechster_kontakt_moeglich >= k.naechster_kontakt_moeglich THEN EXCLUDED.grund ELSE k.grund END,
			notiz  = CASE WHEN EXCLUDED.naechster_kontakt_moeglich >= k.naechster_kontakt_moeglich THEN NULL ELSE k.notiz END,
			updated_at = EXCLUDED.updated_at
		RETURNING `+coolingColumns, therapistID, date, at))
	if err != nil {
		return Cooling{}, fmt.Errorf("extend cooling of therapist %d: %w", therapistID, err)
	}
	return c, nil
}

// SetCooling sets the therapist's date as given (a manual override: it may
// also shorten or end a period) with reason manual and the note.
func SetCooling(ctx context.Context, db DB, therapistID int64, date string, note *string, at time.Time) (Cooling, error) {
	c, err := scanCooling(db.QueryRow(ctx, `
		INSERT INTO matching_service.therapeut_kontaktsperre AS k (therapist_id, naechster_kontakt_moeglich, grund, notiz, updated_at)
		VALUES ($1, $2::text::date, 'manual', $3, $4)
		ON CONFLICT (therapist_id) DO UPDATE SET
			naechster_kontakt_moeglich = EXCLUDED.naechster_kontakt_moeglich,
			grund = EXCLUDED.grund, notiz = EXCLUDED.notiz, updated_at = EXCLUDED.updated_at
		RETURNING `+coolingColumns, therapistID, date, note, at))
	if err != nil {
		return Cooling{}, fmt.Errorf("set cooling of therapist %d: %w", therapistID, err)
	}
	return c, nil
}
