package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// FollowUpCandidate is an anfrage the follow-up job may call about.
type FollowUpCandidate struct {
	ID          int64
	TherapistID int64
	// GesendetDatum is when the anfrage was sent, in UTC (the column holds
	// naive UTC). With ID it is also the cursor of DueFollowUps.
	GesendetDatum time.Time
}

// dueFollowUp is the follow-up rule in SQL: sent at or before the cutoff
// ($1, naive UTC), unanswered, not cancelled, no phone call yet. The last
// three conditions are those of idx_therapeutenanfrage_follow_up_due
// (migration 00004); they must stay written exactly like this for the
// planner to use that partial index.
const dueFollowUp = `gesendet_datum <= $1
  AND antwort_datum IS NULL
  AND storniert_datum IS NULL
  AND phone_call_id IS NULL`

// dueFollowUpsPage is one page of the selection. The row comparison on
// (gesendet_datum, id) is the keyset cursor and an index condition of
// idx_therapeutenanfrage_follow_up_due, so each page starts where the last
// one ended instead of re-reading (or OFFSET-skipping) the rows before it.
const dueFollowUpsPage = `
SELECT id, therapist_id, gesendet_datum
FROM matching_service.therapeutenanfrage
WHERE ` + dueFollowUp + `
  AND (gesendet_datum, id) > ($2, $3)
ORDER BY gesendet_datum, id
LIMIT $4`

// DueFollowUps returns at most limit anfragen due for a follow-up call at
// cutoff, oldest first, strictly after the cursor after (its GesendetDatum
// and ID; the zero value starts at the beginning). It takes no locks: the
// job pages through the selection with it and claims each row separately
// (ClaimFollowUp), so a million-row table is never read into memory and no
// lock is held longer than one anfrage's work.
func DueFollowUps(ctx context.Context, pool *pgxpool.Pool, cutoff time.Time, after FollowUpCandidate, limit int) ([]FollowUpCandidate, error) {
	// Planned for each page with its own cursor (CacheDescribe runs the
	// unnamed statement): a cached prepared statement turns to a generic plan
	// after five executions, and the generic plan of this query walks the
	// whole gesendet_datum index — 15 to 20 times slower on 100,000 rows
	// (measured), and growing with the table.
	rows, err := pool.Query(ctx, dueFollowUpsPage, pgx.QueryExecModeCacheDescribe,
		naiveUTC(cutoff), naiveUTC(after.GesendetDatum), after.ID, limit)
	if err != nil {
		return nil, fmt.Errorf("select due follow-ups: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FollowUpCandidate, error) {
		var c FollowUpCandidate
		err := r.Scan(&c.ID, &c.TherapistID, &c.GesendetDatum)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("select due follow-ups: %w", err)
	}
	return out, nil
}

// ClaimFollowUp locks anfrage id until tx ends, provided it is still due at
// cutoff. ok is false when it is not due any more (answered, cancelled or
// called since it was selected) or when another transaction holds it — a
// concurrent run is claiming it. SKIP LOCKED makes that second case return
// at once instead of waiting. The lock lasts only the claim transaction:
// the caller takes a claim on the row in it (ClaimAnfrage), which keeps
// other runs off the anfrage while the communication service is asked,
// and records the call in a second transaction (SetFollowUpCall).
func ClaimFollowUp(ctx context.Context, tx pgx.Tx, id int64, cutoff time.Time) (c FollowUpCandidate, ok bool, err error) {
	err = tx.QueryRow(ctx, `
SELECT id, therapist_id, gesendet_datum
FROM matching_service.therapeutenanfrage
WHERE id = $2
  AND `+dueFollowUp+`
FOR UPDATE SKIP LOCKED`, naiveUTC(cutoff), id).Scan(&c.ID, &c.TherapistID, &c.GesendetDatum)
	if errors.Is(err, pgx.ErrNoRows) {
		return FollowUpCandidate{}, false, nil
	}
	if err != nil {
		return FollowUpCandidate{}, false, fmt.Errorf("claim anfrage %d for follow-up: %w", id, err)
	}
	return c, true, nil
}

// SetFollowUpCall records the follow-up phone call of an anfrage claimed
// with ClaimFollowUp and ClaimAnfrage.
func SetFollowUpCall(ctx context.Context, tx pgx.Tx, id, phoneCallID int64) error {
	tag, err := tx.Exec(ctx, `
UPDATE matching_service.therapeutenanfrage
SET phone_call_id = $2
WHERE id = $1 AND phone_call_id IS NULL`, id, phoneCallID)
	if err != nil {
		return fmt.Errorf("store phone call %d of anfrage %d: %w", phoneCallID, id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("store phone call %d of anfrage %d: anfrage not claimed or already called", phoneCallID, id)
	}
	return nil
}

// naiveUTC turns t into the value of a timestamp-without-time-zone column
// holding UTC. pgx writes such columns with t's wall clock and drops the
// zone, so a time in another location must be converted first.
func naiveUTC(t time.Time) time.Time { return t.UTC() }
