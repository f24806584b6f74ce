package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
)

// Anfrage is a row of matching_service.therapeutenanfrage. Complete is the
// reference's antwort_vollstaendig: every entry has an outcome.
type Anfrage struct {
	ID           int64
	TherapistID  int64
	CreatedAt    time.Time
	SentAt       *time.Time
	RespondedAt  *time.Time
	ResponseType *string
	Size         int
	Accepted     int
	Rejected     int
	NoResponse   int
	Notes        *string
	EmailID      *int64
	PhoneCallID  *int64
	CancelledAt  *time.Time
	CancelReason *string
	Complete     bool
}

const anfrageColumns = anfrageRowColumns + `,
	COALESCE((SELECT bool_and(e.antwortergebnis IS NOT NULL)
	          FROM matching_service.therapeut_anfrage_patient e
	          WHERE e.therapeutenanfrage_id = a.id), true)`

// anfrageRowColumns are the columns of anfrageColumns that come from the
// anfrage's row (a) itself; the last, Complete, reads its entries.
const anfrageRowColumns = `a.id, a.therapist_id, a.erstellt_datum, a.gesendet_datum, a.antwort_datum,
	a.antworttyp::text, a.anfragegroesse, a.angenommen_anzahl, a.abgelehnt_anzahl,
	a.keine_antwort_anzahl, a.notizen, a.email_id, a.phone_call_id, a.storniert_datum,
	a.storniert_grund`

func anfrageDest(a *Anfrage) []any {
	return []any{&a.ID, &a.TherapistID, &a.CreatedAt, &a.SentAt, &a.RespondedAt,
		&a.ResponseType, &a.Size, &a.Accepted, &a.Rejected,
		&a.NoResponse, &a.Notes, &a.EmailID, &a.PhoneCallID, &a.CancelledAt,
		&a.CancelReason, &a.Complete}
}

// GetAnfrage reads anfrage id; an anfrage that does not exist is a
// fault.NotFound "Anfrage {id} not found".
func GetAnfrage(ctx context.Context, db DB, id int64) (Anfrage, error) {
	return getAnfrage(ctx, db, id, "")
}

// LockAnfrage reads anfrage id and locks its row until the transaction ends.
// Sending and recording a response take this lock, so two concurrent sends
// (or responses) of one anfrage run one after the other, and the second sees
// what the first committed.
func LockAnfrage(ctx context.Context, tx pgx.Tx, id int64) (Anfrage, error) {
	return getAnfrage(ctx, tx, id, "FOR UPDATE OF a")
}

func getAnfrage(ctx context.Context, db DB, id int64, lock string) (Anfrage, error) {
	var a Anfrage
	err := db.QueryRow(ctx, `SELECT `+anfrageColumns+`
		FROM matching_service.therapeutenanfrage a WHERE a.id = $1 `+lock, id).Scan(anfrageDest(&a)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Anfrage{}, anfrageNotFound(id)
	}
	if err != nil {
		return Anfrage{}, fmt.Errorf("read anfrage %d: %w", id, err)
	}
	return a, nil
}

func anfrageNotFound(id int64) error { return fault.NotFoundf("Anfrage %d not found", id) }

// AnfrageEntry is one patient of an anfrage (therapeut_anfrage_patient) with
// the creation time and status of its search.
type AnfrageEntry struct {
	ID              int64
	AnfrageID       int64
	SearchID        int64
	PatientID       int64
	Position        int
	Status          string
	Outcome         *string
	OutcomeNotes    *string
	SearchCreatedAt time.Time
	SearchStatus    string
}

// AnfrageEntries lists the entries of anfrage id by position.
func AnfrageEntries(ctx context.Context, db DB, id int64) ([]AnfrageEntry, error) {
	return anfrageEntries(ctx, db, id, `
		FROM matching_service.therapeut_anfrage_patient e
		JOIN matching_service.platzsuche s ON s.id = e.platzsuche_id
		WHERE e.therapeutenanfrage_id = $1`)
}

// anfrageEntries reads the entries of anfrage id from the entries e and
// searches s that from names (the tables, or their state at an instant).
func anfrageEntries(ctx context.Context, db DB, id int64, from string, args ...any) ([]AnfrageEntry, error) {
	rows, err := db.Query(ctx, `
		SELECT e.id, e.therapeutenanfrage_id, e.platzsuche_id, e.patient_id, e.position_in_anfrage,
		       e.status::text, e.antwortergebnis::text, e.antwortnotizen, s.created_at, s.status::text
		`+from+`
		ORDER BY e.position_in_anfrage, e.id`, append([]any{id}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("entries of anfrage %d: %w", id, err)
	}
	entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AnfrageEntry, error) {
		var e AnfrageEntry
		err := r.Scan(&e.ID, &e.AnfrageID, &e.SearchID, &e.PatientID, &e.Position,
			&e.Status, &e.Outcome, &e.OutcomeNotes, &e.SearchCreatedAt, &e.SearchStatus)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("entries of anfrage %d: %w", id, err)
	}
	return entries, nil
}

// therapistLockClass is the first key of the advisory locks that serialise
// anfrage creation per therapist (the second key is the therapist id); it
// keeps these locks apart from any other advisory lock in the database.
const therapistLockClass = 0x616e66 // "anf"

// LockTherapist serialises anfrage creation for one therapist: it takes a
// transaction-scoped advisory lock on the therapist id, released at commit or
// rollback. A second creation for the same therapist waits here and then sees
// the first one's anfrage as open.
func LockTherapist(ctx context.Context, tx pgx.Tx, therapistID int64) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int, $2::int)`, therapistLockClass, therapistID); err != nil {
		return fmt.Errorf("lock therapist %d: %w", therapistID, err)
	}
	return nil
}

// openAnfrage is the predicate of an anfrage that still waits for something:
// unsent or sent and unanswered, and not cancelled.
const openAnfrage = `a.antwort_datum IS NULL AND a.storniert_datum IS NULL`

// OpenAnfrage returns the id of the oldest open anfrage of the therapist, or 0.
func OpenAnfrage(ctx context.Context, db DB, therapistID int64) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `
		SELECT a.id FROM matching_service.therapeutenanfrage a
		WHERE a.therapist_id = $1 AND `+openAnfrage+`
		ORDER BY a.id LIMIT 1`, therapistID).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open anfrage of therapist %d: %w", therapistID, err)
	}
	return id, nil
}

// PendingTherapists returns which of the therapists have an open anfrage.
func PendingTherapists(ctx context.Context, db DB, therapistIDs []int64) (map[int64]bool, error) {
	rows, err := db.Query(ctx, `
		SELECT DISTINCT a.therapist_id FROM matching_service.therapeutenanfrage a
		WHERE a.therapist_id = ANY($1) AND `+openAnfrage, therapistIDs)
	if err != nil {
		return nil, fmt.Errorf("pending therapists: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("pending therapists: %w", err)
	}
	out := make(map[int64]bool, len(ids))
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}

// Candidate is an aktiv search that may join an anfrage to a therapist.
type Candidate struct {
	SearchID   int64
	PatientID  int64
	CreatedAt  time.Time
	Exclusions json.RawMessage
}

// CandidateSearches lists the aktiv searches in queue order (enhancements
// A4): prioritaet highest first, then the oldest, ties broken by id,
// leaving out patients who already sit in an open anfrage to the therapist.
func CandidateSearches(ctx context.Context, db DB, therapistID int64) ([]Candidate, error) {
	rows, err := db.Query(ctx, `
		SELECT s.id, s.patient_id, s.created_at, s.ausgeschlossene_therapeuten
		FROM matching_service.platzsuche s
		WHERE s.status = 'aktiv'
		  AND NOT EXISTS (
		      SELECT 1 FROM matching_service.therapeut_anfrage_patient e
		      JOIN matching_service.therapeutenanfrage a ON a.id = e.therapeutenanfrage_id
		      WHERE e.patient_id = s.patient_id AND a.therapist_id = $1 AND `+openAnfrage+`)
		ORDER BY -s.prioritaet, s.created_at, s.id`, therapistID)
	if err != nil {
		return nil, fmt.Errorf("candidate searches: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Candidate, error) {
		var c Candidate
		var excl []byte
		err := r.Scan(&c.SearchID, &c.PatientID, &c.CreatedAt, &excl)
		c.Exclusions = json.RawMessage(excl)
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("candidate searches: %w", err)
	}
	return out, nil
}

// InsertAnfrage creates an anfrage to the therapist with the given searches
// in the given order (positions 1..n). Searches that are no longer aktiv are
// left out; their rows are share-locked so that none leaves aktiv before the
// commit. It returns the anfrage and its entries; an anfrage of zero entries
// is not created (ok false).
func InsertAnfrage(ctx context.Context, tx pgx.Tx, therapistID int64, searchIDs []int64, at time.Time) (a Anfrage, entries []AnfrageEntry, ok bool, err error) {
	rows, err := tx.Query(ctx, `
		SELECT s.id, s.patient_id, s.created_at FROM matching_service.platzsuche s
		WHERE s.id = ANY($1) AND s.status = 'aktiv'
		ORDER BY s.id
		FOR SHARE`, searchIDs)
	if err != nil {
		return Anfrage{}, nil, false, fmt.Errorf("lock searches: %w", err)
	}
	type live struct {
		patient int64
		created time.Time
	}
	alive := map[int64]live{}
	for rows.Next() {
		var id int64
		var l live
		if err := rows.Scan(&id, &l.patient, &l.created); err != nil {
			rows.Close()
			return Anfrage{}, nil, false, fmt.Errorf("lock searches: %w", err)
		}
		alive[id] = l
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return Anfrage{}, nil, false, fmt.Errorf("lock searches: %w", err)
	}
	var ids, patients []int64
	for _, id := range searchIDs {
		if l, found := alive[id]; found {
			ids = append(ids, id)
			patients = append(patients, l.patient)
			entries = append(entries, AnfrageEntry{SearchID: id, PatientID: l.patient, Position: len(ids),
				Status: "anstehend", SearchCreatedAt: l.created, SearchStatus: "aktiv"})
		}
	}
	if len(ids) == 0 {
		return Anfrage{}, nil, false, nil
	}
	a = Anfrage{TherapistID: therapistID, CreatedAt: at, Size: len(ids), Complete: false}
	if err := tx.QueryRow(ctx, `
		INSERT INTO matching_service.therapeutenanfrage (therapist_id, erstellt_datum, anfragegroesse)
		VALUES ($1, $2, $3) RETURNING id`, therapistID, at, len(ids)).Scan(&a.ID); err != nil {
		return Anfrage{}, nil, false, fmt.Errorf("insert anfrage: %w", err)
	}
	rows, err = tx.Query(ctx, `
		INSERT INTO matching_service.therapeut_anfrage_patient
		       (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage, status, created_at)
		SELECT $1, v.search_id, v.patient_id, v.pos, 'anstehend', $4
		FROM unnest($2::int[], $3::int[]) WITH ORDINALITY AS v(search_id, patient_id, pos)
		ORDER BY v.pos
		RETURNING id, position_in_anfrage`, a.ID, ids, patients, at)
	if err != nil {
		return Anfrage{}, nil, false, fmt.Errorf("insert anfrage entries: %w", err)
	}
	inserted, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{ id, pos int64 }, error) {
		var e struct{ id, pos int64 }
		err := r.Scan(&e.id, &e.pos)
		return e, err
	})
	if err != nil {
		return Anfrage{}, nil, false, fmt.Errorf("insert anfrage entries: %w", err)
	}
	// Each row says its position, so the pairing does not depend on the
	// order RETURNING happens to list the rows in.
	if len(inserted) != len(entries) {
		return Anfrage{}, nil, false, fmt.Errorf("insert anfrage entries: %d rows inserted for %d searches", len(inserted), len(entries))
	}
	for _, e := range inserted {
		if e.pos < 1 || e.pos > int64(len(entries)) {
			return Anfrage{}, nil, false, fmt.Errorf("insert anfrage entries: position %d outside 1..%d", e.pos, len(entries))
		}
		entries[e.pos-1].ID = e.id
	}
	for i := range entries {
		entries[i].AnfrageID = a.ID
	}
	return a, entries, true, nil
}

// MarkSent records that anfrage id was sent at at, by email or phone call.
func MarkSent(ctx context.Context, db DB, id int64, emailID, phoneCallID *int64, at time.Time) error {
	_, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET gesendet_datum = $2, email_id = COALESCE($3, email_id), phone_call_id = COALESCE($4, phone_call_id)
		WHERE id = $1`, id, at, emailID, phoneCallID)
	if err != nil {
		return fmt.Errorf("mark anfrage %d sent: %w", id, err)
	}
	return nil
}

// EntryOutcome is the recorded outcome of one entry and the status it takes.
type EntryOutcome struct {
	EntryID int64
	Outcome string
	Status  string
}

// Response is what RecordResponse stores on the anfrage.
type Response struct {
	Type       string
	Accepted   int
	Rejected   int
	NoResponse int
	// Notes is the whole new notes text, or nil to keep it.
	Notes *string
}

// RecordResponse stores the outcomes of the entries and the response of
// anfrage id, answered at at.
func RecordResponse(ctx context.Context, db DB, id int64, outcomes []EntryOutcome, r Response, at time.Time) error {
	entryIDs := make([]int64, len(outcomes))
	results := make([]string, len(outcomes))
	statuses := make([]string, len(outcomes))
	for i, o := range outcomes {
		entryIDs[i], results[i], statuses[i] = o.EntryID, o.Outcome, o.Status
	}
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.therapeut_anfrage_patient e
		SET antwortergebnis = v.outcome::public.patientenergebnis,
		    status = v.status::public.anfrage_patient_status
		FROM unnest($2::bigint[], $3::text[], $4::text[]) AS v(entry_id, outcome, status)
		WHERE e.id = v.entry_id AND e.therapeutenanfrage_id = $1`,
		id, entryIDs, results, statuses); err != nil {
		return fmt.Errorf("record outcomes of anfrage %d: %w", id, err)
	}
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET antwort_datum = $2, antworttyp = $3::text::public.antworttyp,
		    angenommen_anzahl = $4, abgelehnt_anzahl = $5, keine_antwort_anzahl = $6,
		    notizen = CASE WHEN $7::boolean THEN $8::text ELSE notizen END
		WHERE id = $1`,
		id, at, r.Type, r.Accepted, r.Rejected, r.NoResponse, r.Notes != nil, deref(r.Notes)); err != nil {
		return fmt.Errorf("record response of anfrage %d: %w", id, err)
	}
	return nil
}

// SetResponseCounts replaces the counts and type of an answered anfrage
// (after an entry was removed with its search).
func SetResponseCounts(ctx context.Context, db DB, id int64, r Response) error {
	_, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage
		SET antworttyp = $2::text::public.antworttyp,
		    angenommen_anzahl = $3, abgelehnt_anzahl = $4, keine_antwort_anzahl = $5
		WHERE id = $1 AND antwort_datum IS NOT NULL`,
		id, r.Type, r.Accepted, r.Rejected, r.NoResponse)
	if err != nil {
		return fmt.Errorf("set response counts of anfrage %d: %w", id, err)
	}
	return nil
}

// CompactAnfragen makes the anfragen consistent after entries were removed:
// positions are renumbered 1..n in their old order, anfragegroesse becomes n,
// and an anfrage left without entries is deleted. It returns the ids of the
// anfragen that remain and were already answered, whose counts the caller
// recomputes with SetResponseCounts.
func CompactAnfragen(ctx context.Context, tx pgx.Tx, ids []int64) (answered []int64, err error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if _, err := tx.Exec(ctx, `
		UPDATE matching_service.therapeut_anfrage_patient e
		SET position_in_anfrage = r.pos
		FROM (SELECT id, row_number() OVER (PARTITION BY therapeutenanfrage_id ORDER BY position_in_anfrage, id) AS pos
		      FROM matching_service.therapeut_anfrage_patient
		      WHERE therapeutenanfrage_id = ANY($1)) r
		WHERE e.id = r.id AND e.position_in_anfrage <> r.pos`, ids); err != nil {
		return nil, fmt.Errorf("renumber anfrage entries: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage a
		SET anfragegroesse = (SELECT count(*) FROM matching_service.therapeut_anfrage_patient e WHERE e.therapeutenanfrage_id = a.id)
		WHERE a.id = ANY($1)`, ids); err != nil {
		return nil, fmt.Errorf("resize anfragen: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		DELETE FROM matching_service.therapeutenanfrage a
		WHERE a.id = ANY($1) AND a.anfragegroesse = 0`, ids); err != nil {
		return nil, fmt.Errorf("delete empty anfragen: %w", err)
	}
	rows, err := tx.Query(ctx, `
		SELECT a.id FROM matching_service.therapeutenanfrage a
		WHERE a.id = ANY($1) AND a.antwort_datum IS NOT NULL ORDER BY a.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("answered anfragen: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// DeleteAnfrage deletes anfrage id with its entries; an anfrage that does
// not exist is a fault.NotFound "Anfrage {id} not found".
func DeleteAnfrage(ctx context.Context, db DB, id int64) error {
	tag, err := db.Exec(ctx, `DELETE FROM matching_service.therapeutenanfrage WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete anfrage %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return anfrageNotFound(id)
	}
	return nil
}
