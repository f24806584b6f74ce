package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// QueuedSearch is an aktiv search in queue order with its patient's copy:
// Copy.ID is 0 when the copy has no row for the patient yet.
type QueuedSearch struct {
	Candidate
	Priority int
	Copy     PatientCopy
}

// QueueCursor is the position in the queue after which CandidateQueue
// reads on: the last search read.
type QueueCursor struct {
	Priority  int
	CreatedAt time.Time
	SearchID  int64
}

// Cursor is the queue position of q.
func (q QueuedSearch) Cursor() *QueueCursor {
	return &QueueCursor{Priority: q.Priority, CreatedAt: q.CreatedAt, SearchID: q.SearchID}
}

// CandidateQueue reads up to limit aktiv searches after the cursor (nil:
// from the start) in queue order, prioritaet highest first, then the
// oldest, then the lowest id, leaving out patients who sit in an open
// anfrage to the therapist, each with its patient's copy. It is
// CandidateSearches in pages, read together with the copy in one statement
// per page (keyset paging on idx_platzsuche_aktiv_queue: each page starts
// where the last ended, whatever the page). Searches whose
// patient the copy holds as removed, or whose copied PLZ does not contain
// prefix, are left out here already (the caller checks the prefix exactly);
// a search whose patient has no copy yet is kept, for the caller to fetch.
func CandidateQueue(ctx context.Context, db DB, therapistID int64, prefix string, after *QueueCursor, limit int) ([]QueuedSearch, error) {
	// Before the first search: above any priority a column can hold.
	cur := QueueCursor{Priority: math.MaxInt32 + 1}
	if after != nil {
		cur = *after
	}
	cols := ""
	for _, c := range splitColumns(patientCopyColumns) {
		switch c {
		case "patient_id":
			cols += "COALESCE(c.patient_id, 0), "
		case "address":
			cols += "COALESCE(c.address, ''), "
		case "removed":
			cols += "COALESCE(c.removed, false), "
		case "fetched_at":
			cols += "COALESCE(c.fetched_at, 'epoch'::timestamptz)"
		default:
			cols += "c." + c + ", "
		}
	}
	rows, err := db.Query(ctx, `
		SELECT s.id, s.patient_id, s.created_at, s.ausgeschlossene_therapeuten, s.prioritaet, `+cols+`
		FROM matching_service.platzsuche s
		LEFT JOIN matching_service.patient_copy c ON c.patient_id = s.patient_id
		WHERE s.status = 'aktiv'
		  AND (-s.prioritaet, s.created_at, s.id) > ($2, $3, $4)
		  AND (c.patient_id IS NULL OR (NOT c.removed AND strpos(c.plz, $5) > 0))
		  AND NOT EXISTS (
		      SELECT 1 FROM matching_service.therapeut_anfrage_patient e
		      JOIN matching_service.therapeutenanfrage a ON a.id = e.therapeutenanfrage_id
		      WHERE e.patient_id = s.patient_id AND a.therapist_id = $1 AND `+openAnfrage+`)
		ORDER BY -s.prioritaet, s.created_at, s.id
		LIMIT $6`, therapistID, -cur.Priority, cur.CreatedAt, cur.SearchID, prefix, limit)
	if err != nil {
		return nil, fmt.Errorf("candidate queue: %w", err)
	}
	defer rows.Close()
	var out []QueuedSearch
	for rows.Next() {
		var q QueuedSearch
		var excl []byte
		dest := append([]any{&q.SearchID, &q.PatientID, &q.CreatedAt, &excl, &q.Priority}, q.Copy.fields()...)
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("candidate queue: %w", err)
		}
		q.Exclusions = json.RawMessage(excl)
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("candidate queue: %w", err)
	}
	return out, nil
}
