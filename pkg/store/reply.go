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

// This file holds the SQL of therapists' email replies (enhancements B):
// the people an anfrage's letter showed, finding the anfrage of a reply, and
// the suggestions (antwort_vorschlag) filed for each reply.

// SetLetterPeople stores, on anfrage id, the people as its letter showed
// them (a JSON array); the send writes it with the send.
func SetLetterPeople(ctx context.Context, db DB, id int64, people json.RawMessage) error {
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.therapeutenanfrage SET brief_personen = $2::jsonb WHERE id = $1`,
		id, string(people)); err != nil {
		return fmt.Errorf("store the letter's people of anfrage %d: %w", id, err)
	}
	return nil
}

// LetterPeople returns the people anfrage id's letter showed, as stored by
// SetLetterPeople; nil when none were stored (unsent, or sent before they
// were kept). An anfrage that does not exist is a fault.NotFound.
func LetterPeople(ctx context.Context, db DB, id int64) (json.RawMessage, error) {
	var raw []byte
	err := db.QueryRow(ctx, `
		SELECT brief_personen::text FROM matching_service.therapeutenanfrage WHERE id = $1`, id).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, anfrageNotFound(id)
	}
	if err != nil {
		return nil, fmt.Errorf("the letter's people of anfrage %d: %w", id, err)
	}
	return raw, nil
}

// LockAnfrageByEmail finds the anfrage whose email_id is emailID and locks
// it like LockAnfrage. ok is false when no anfrage, or more than one, has
// that email: a reply is assigned by its email only when that is
// unambiguous.
func LockAnfrageByEmail(ctx context.Context, tx pgx.Tx, emailID int64) (a Anfrage, ok bool, err error) {
	rows, err := tx.Query(ctx, `
		SELECT id FROM matching_service.therapeutenanfrage WHERE email_id = $1 ORDER BY id LIMIT 2`, emailID)
	if err != nil {
		return Anfrage{}, false, fmt.Errorf("anfrage of email %d: %w", emailID, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return Anfrage{}, false, fmt.Errorf("anfrage of email %d: %w", emailID, err)
	}
	if len(ids) != 1 {
		return Anfrage{}, false, nil
	}
	a, err = LockAnfrage(ctx, tx, ids[0])
	if fault.KindOf(err) == fault.NotFound { // deleted in between
		return Anfrage{}, false, nil
	}
	return a, err == nil, err
}

// Suggestion statuses: offen waits for a clerk; uebernommen means the
// anfrage's response has been recorded since the reply came (from this reply
// automatically, or by a clerk).
const (
	SuggestionOpen  = "offen"
	SuggestionTaken = "uebernommen"
)

// Suggestion is a row of antwort_vorschlag: one reply received and what it
// says per patient.
type Suggestion struct {
	ID      int64
	EmailID int64
	// Hash identifies the reply's content (subject and body) for EmailID.
	Hash string
	// AnfrageID is nil for a reply no anfrage could be found for.
	AnfrageID   *int64
	TherapistID *int64
	Status      string
	// Reason says why a clerk must look at it; nil when it was applied.
	Reason    *string
	Automatic bool
	AutoReply bool
	// Responses maps patient ids (decimal) to the outcome the reply decided.
	Responses map[string]string
	// Unclear are the patients the reply left undecided, in position order.
	Unclear []int64
	// Evidence maps patient ids (decimal) to the sentence behind the
	// reading.
	Evidence   map[string]string
	Subject    string
	Body       string
	From       string
	ReceivedAt string
	CreatedAt  time.Time
	TakenAt    *time.Time
}

const suggestionColumns = `v.id, v.email_id, v.antwort_hash, v.therapeutenanfrage_id, v.therapist_id, v.status,
	v.grund, v.automatisch, v.automatische_antwort, v.patient_responses, v.unklar, v.belege,
	v.betreff, v.inhalt, v.absender, v.empfangen_am, v.erstellt_am, v.uebernommen_am`

func scanSuggestion(row pgx.Row) (Suggestion, error) {
	var s Suggestion
	err := row.Scan(&s.ID, &s.EmailID, &s.Hash, &s.AnfrageID, &s.TherapistID, &s.Status,
		&s.Reason, &s.Automatic, &s.AutoReply, &s.Responses, &s.Unclear, &s.Evidence,
		&s.Subject, &s.Body, &s.From, &s.ReceivedAt, &s.CreatedAt, &s.TakenAt)
	return s, err
}

// InsertSuggestion stores s (its ID and CreatedAt are ignored; at is the
// creation time) unless the same reply to the same email (EmailID, Hash) is
// stored already: then it inserts nothing and returns inserted false. Under
// concurrent delivery of one reply the second insert waits for the first
// transaction and then sees the conflict, so the reply's effects apply once.
func InsertSuggestion(ctx context.Context, db DB, s Suggestion, at time.Time) (id int64, inserted bool, err error) {
	if s.Responses == nil {
		s.Responses = map[string]string{}
	}
	if s.Unclear == nil {
		s.Unclear = []int64{}
	}
	if s.Evidence == nil {
		s.Evidence = map[string]string{}
	}
	err = db.QueryRow(ctx, `
		INSERT INTO matching_service.antwort_vorschlag
		    (email_id, antwort_hash, therapeutenanfrage_id, therapist_id, status, grund, automatisch,
		     automatische_antwort, patient_responses, unklar, belege, betreff, inhalt, absender,
		     empfangen_am, erstellt_am, uebernommen_am)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
		        CASE WHEN $5 = 'uebernommen' THEN $16::timestamp END)
		ON CONFLICT (email_id, antwort_hash) DO NOTHING
		RETURNING id`,
		s.EmailID, s.Hash, s.AnfrageID, s.TherapistID, s.Status, s.Reason, s.Automatic,
		s.AutoReply, s.Responses, s.Unclear, s.Evidence, s.Subject, s.Body, s.From,
		s.ReceivedAt, at).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store the reply to email %d: %w", s.EmailID, err)
	}
	return id, true, nil
}

// LatestSuggestion returns the suggestion of the last reply to anfrage id;
// none is a fault.NotFound.
func LatestSuggestion(ctx context.Context, db DB, anfrageID int64) (Suggestion, error) {
	s, err := scanSuggestion(db.QueryRow(ctx, `
		SELECT `+suggestionColumns+` FROM matching_service.antwort_vorschlag v
		WHERE v.therapeutenanfrage_id = $1 ORDER BY v.id DESC LIMIT 1`, anfrageID))
	if errors.Is(err, pgx.ErrNoRows) {
		return Suggestion{}, fault.NotFoundf("No reply suggestion for anfrage %d", anfrageID)
	}
	if err != nil {
		return Suggestion{}, fmt.Errorf("reply suggestion of anfrage %d: %w", anfrageID, err)
	}
	return s, nil
}

// ListSuggestions returns one page of the suggestions, oldest first (the
// review list is worked from the top), with status when it is not nil, and
// how many there are in all.
func ListSuggestions(ctx context.Context, db DB, status *string, limit, offset int) ([]Suggestion, int, error) {
	var total int
	if err := db.QueryRow(ctx, `
		SELECT count(*) FROM matching_service.antwort_vorschlag v WHERE ($1::text IS NULL OR v.status = $1)`,
		status).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count reply suggestions: %w", err)
	}
	rows, err := db.Query(ctx, `
		SELECT `+suggestionColumns+` FROM matching_service.antwort_vorschlag v
		WHERE ($1::text IS NULL OR v.status = $1)
		ORDER BY v.id LIMIT $2 OFFSET $3`, status, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list reply suggestions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Suggestion, error) { return scanSuggestion(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list reply suggestions: %w", err)
	}
	return out, total, nil
}

// TakeSuggestions marks the open suggestions of anfrage id uebernommen at
// at: its response has been recorded.
func TakeSuggestions(ctx context.Context, db DB, anfrageID int64, at time.Time) error {
	if _, err := db.Exec(ctx, `
		UPDATE matching_service.antwort_vorschlag
		SET status = 'uebernommen', uebernommen_am = $2
		WHERE therapeutenanfrage_id = $1 AND status = 'offen'`, anfrageID, at); err != nil {
		return fmt.Errorf("close the reply suggestions of anfrage %d: %w", anfrageID, err)
	}
	return nil
}
