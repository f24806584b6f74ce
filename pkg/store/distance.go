package store

import (
	"context"
	"fmt"
)

// Trip is the key of the distance table: the patient's address, the
// therapist's address and the travel mode, exactly as matching sends them
// to the geocoding service.
type Trip struct {
	From, To, Mode string
}

// Distance is what the geocoding service answered for a trip: KM when
// Known; unknown when it could not compute one.
type Distance struct {
	KM    float64
	Known bool
}

// Distances reads the known answers for the trips; a trip the table does
// not hold is not in the map.
func Distances(ctx context.Context, db DB, trips []Trip) (map[Trip]Distance, error) {
	out := make(map[Trip]Distance, len(trips))
	if len(trips) == 0 {
		return out, nil
	}
	from, to, mode := make([]string, len(trips)), make([]string, len(trips)), make([]string, len(trips))
	for i, t := range trips {
		from[i], to[i], mode[i] = t.From, t.To, t.Mode
	}
	rows, err := db.Query(ctx, `
		SELECT d.origin, d.destination, d.travel_mode, d.distance_km
		FROM unnest($1::text[], $2::text[], $3::text[]) AS k(origin, destination, travel_mode)
		JOIN matching_service.travel_distance d USING (origin, destination, travel_mode)`, from, to, mode)
	if err != nil {
		return nil, fmt.Errorf("read distances: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Trip
		var km *float64
		if err := rows.Scan(&t.From, &t.To, &t.Mode, &km); err != nil {
			return nil, fmt.Errorf("read distances: %w", err)
		}
		d := Distance{Known: km != nil}
		if km != nil {
			d.KM = *km
		}
		out[t] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read distances: %w", err)
	}
	return out, nil
}

// PutDistance stores the geocoding service's answer for a trip, replacing
// an older one.
func PutDistance(ctx context.Context, db DB, t Trip, d Distance) error {
	var km *float64
	if d.Known {
		km = &d.KM
	}
	if _, err := db.Exec(ctx, `
		INSERT INTO matching_service.travel_distance (origin, destination, travel_mode, distance_km)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (origin, destination, travel_mode)
		DO UPDATE SET distance_km = EXCLUDED.distance_km, fetched_at = now()`, t.From, t.To, t.Mode, km); err != nil {
		return fmt.Errorf("store distance: %w", err)
	}
	return nil
}

// ForgetPatientAddress deletes the distances from a patient address that no
// copied patient has any more (the patient moved).
func ForgetPatientAddress(ctx context.Context, db DB, address string) error {
	return forgetAddress(ctx, db, "origin", "patient_copy", address)
}

// ForgetTherapistAddress deletes the distances to a therapist address that
// no copied therapist has any more.
func ForgetTherapistAddress(ctx context.Context, db DB, address string) error {
	return forgetAddress(ctx, db, "destination", "therapist_copy", address)
}

// forgetAddress deletes the distances whose column (origin or destination)
// is address, unless a live copy in table still has it.
func forgetAddress(ctx context.Context, db DB, column, table, address string) error {
	if address == "" {
		return nil
	}
	if _, err := db.Exec(ctx, `
		DELETE FROM matching_service.travel_distance
		WHERE `+column+` = $1
		  AND NOT EXISTS (SELECT 1 FROM matching_service.`+table+` WHERE address = $1 AND NOT removed)`, address); err != nil {
		return fmt.Errorf("forget the distances of an address (%s): %w", table, err)
	}
	return nil
}

// PruneDistances deletes the distances between addresses no copy holds any
// more, and those the geocoding service could not compute (asked again on
// the next use, in case its data has improved). It returns how many it
// deleted.
func PruneDistances(ctx context.Context, db DB) (int64, error) {
	tag, err := db.Exec(ctx, `
		DELETE FROM matching_service.travel_distance d
		WHERE d.distance_km IS NULL
		   OR NOT EXISTS (SELECT 1 FROM matching_service.patient_copy p WHERE p.address = d.origin AND NOT p.removed)
		   OR NOT EXISTS (SELECT 1 FROM matching_service.therapist_copy t WHERE t.address = d.destination AND NOT t.removed)`)
	if err != nil {
		return 0, fmt.Errorf("prune distances: %w", err)
	}
	return tag.RowsAffected(), nil
}
