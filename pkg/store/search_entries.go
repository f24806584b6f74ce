package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SearchEntry is one anfrage entry of a search (anfrage_verlauf of the detail).
type SearchEntry struct {
	AnfrageID    int64
	TherapistID  int64
	Position     int
	Status       string
	Outcome      *string
	SentAt       *time.Time
	RespondedAt  *time.Time
	CancelledAt  *time.Time
	EntryCreated time.Time
}

// SearchEntries lists the anfrage entries of search id in the order they were
// created.
func SearchEntries(ctx context.Context, db DB, id int64) ([]SearchEntry, error) {
	return searchEntries(ctx, db, id, `
		FROM matching_service.therapeut_anfrage_patient e
		JOIN matching_service.therapeutenanfrage a ON a.id = e.therapeutenanfrage_id
		WHERE e.platzsuche_id = $1`)
}

// searchEntries reads the entries of search id from the entries e and
// anfragen a that from names (the tables, or their state at an instant).
func searchEntries(ctx context.Context, db DB, id int64, from string, args ...any) ([]SearchEntry, error) {
	rows, err := db.Query(ctx, `
		SELECT a.id, a.therapist_id, e.position_in_anfrage, e.status::text, e.antwortergebnis::text,
		       a.gesendet_datum, a.antwort_datum, a.storniert_datum, e.created_at
		`+from+`
		ORDER BY e.created_at, e.id`, append([]any{id}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("entries of platzsuche %d: %w", id, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SearchEntry, error) {
		var e SearchEntry
		err := r.Scan(&e.AnfrageID, &e.TherapistID, &e.Position, &e.Status, &e.Outcome,
			&e.SentAt, &e.RespondedAt, &e.CancelledAt, &e.EntryCreated)
		return e, err
	})
}
