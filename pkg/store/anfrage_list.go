package store

import (
	"context"
	"fmt"
	"time"
)

// AnfrageFilter selects anfragen for ListAnfragen. Nil fields do not filter.
type AnfrageFilter struct {
	TherapistID *int64
	// Sent: true for gesendet, false for ungesendet.
	Sent *bool
	// Answer: "beantwortet" (answered) or "ausstehend" (sent, unanswered).
	Answer *string
	// FollowUp keeps anfragen that need (true) or do not need (false) a follow-up.
	FollowUp *bool
	MinSize  *int
	MaxSize  *int
	Limit    int
	Offset   int
	// FollowUpBefore: an anfrage sent at or before this time and still
	// unanswered and not cancelled needs a follow-up (now minus the threshold).
	FollowUpBefore time.Time
}

// AnfrageTotals are counted over every anfrage the filter selects.
type AnfrageTotals struct {
	Total           int
	Unsent          int
	Pending         int
	NeedingFollowUp int
}

// needsFollowUp is the follow-up predicate; $7 is FollowUpBefore.
const needsFollowUp = `(a.gesendet_datum IS NOT NULL AND a.antwort_datum IS NULL
	AND a.storniert_datum IS NULL AND a.gesendet_datum <= $7)`

const anfrageWhere = `
	WHERE ($1::int IS NULL OR a.therapist_id = $1)
	  AND ($2::boolean IS NULL OR (a.gesendet_datum IS NOT NULL) = $2)
	  AND ($3::text IS NULL
	       OR ($3 = 'beantwortet' AND a.antwort_datum IS NOT NULL)
	       OR ($3 = 'ausstehend' AND a.gesendet_datum IS NOT NULL AND a.antwort_datum IS NULL))
	  AND ($4::boolean IS NULL OR ` + needsFollowUp + ` = $4)
	  AND ($5::int IS NULL OR a.anfragegroesse >= $5)
	  AND ($6::int IS NULL OR a.anfragegroesse <= $6)`

// anfrageTotals counts the anfragen the filter selects, in one pass.
const anfrageTotals = `
	SELECT count(*),
	       count(*) FILTER (WHERE a.gesendet_datum IS NULL),
	       count(*) FILTER (WHERE a.gesendet_datum IS NOT NULL AND a.antwort_datum IS NULL),
	       count(*) FILTER (WHERE ` + needsFollowUp + `)
	FROM matching_service.therapeutenanfrage a` + anfrageWhere

// ListAnfragen returns one page of the anfragen f selects, newest first (ties
// by id), and the totals over all of them, in one statement (one snapshot).
// The page walks idx_therapeutenanfrage_erstellt backwards and stops after
// the page; the totals are one aggregate pass over the filtered rows (a
// window count over the same rows costs three times as much, as it keeps
// every row); the completeness subquery runs for the page's rows only.
func ListAnfragen(ctx context.Context, db DB, f AnfrageFilter) ([]Anfrage, AnfrageTotals, error) {
	args := []any{f.TherapistID, f.Sent, f.Answer, f.FollowUp, f.MinSize, f.MaxSize, f.FollowUpBefore, f.Limit, f.Offset}
	rows, err := db.Query(ctx, `
		WITH totals AS MATERIALIZED (`+anfrageTotals+`)
		SELECT `+anfrageColumns+`, t.*
		FROM (SELECT a.id, a.erstellt_datum FROM matching_service.therapeutenanfrage a`+anfrageWhere+`
		      ORDER BY a.erstellt_datum DESC, a.id DESC
		      LIMIT $8 OFFSET $9) p
		JOIN matching_service.therapeutenanfrage a ON a.id = p.id
		CROSS JOIN totals t
		ORDER BY p.erstellt_datum DESC, p.id DESC`, args...)
	if err != nil {
		return nil, AnfrageTotals{}, fmt.Errorf("list anfragen: %w", err)
	}
	var (
		out []Anfrage
		t   AnfrageTotals
	)
	for rows.Next() {
		var a Anfrage
		dest := append(anfrageDest(&a), &t.Total, &t.Unsent, &t.Pending, &t.NeedingFollowUp)
		if err := rows.Scan(dest...); err != nil {
			rows.Close()
			return nil, AnfrageTotals{}, fmt.Errorf("list anfragen: %w", err)
		}
		out = append(out, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, AnfrageTotals{}, fmt.Errorf("list anfragen: %w", err)
	}
	if len(out) == 0 {
		// A page past the end has no rows to carry the totals.
		err := db.QueryRow(ctx, anfrageTotals, args[:7]...).Scan(&t.Total, &t.Unsent, &t.Pending, &t.NeedingFollowUp)
		if err != nil {
			return nil, AnfrageTotals{}, fmt.Errorf("count anfragen: %w", err)
		}
	}
	return out, t, nil
}
