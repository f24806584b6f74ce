package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file holds the SQL of matching's copy of the patients and therapists
// (enhancements A1): patient_copy and therapist_copy. A copy row is written
// only by a fetch that started later than the one it replaces, so fetches
// finishing out of order leave the newest state; a removed row is a
// tombstone that keeps an older fetch still in flight from bringing the
// record back.

// PatientCopy is matching's copy of a patient record: the fields of
// reference-behaviour §3.4 as the patient service sent them (pointer fields
// nil for null or absent, JSON fields nil when absent), and the bookkeeping.
type PatientCopy struct {
	ID                                   int64
	Vorname                              *string
	Nachname                             *string
	Strasse                              *string
	PLZ                                  *string
	Ort                                  *string
	Geschlecht                           *string
	Geburtsdatum                         *string
	Symptome                             json.RawMessage
	Krankenkasse                         *string
	ErfahrungMitPsychotherapie           *bool
	LetzteSitzungVorherigePsychotherapie *string
	OffenFuerGruppentherapie             *bool
	ZeitlicheVerfuegbarkeit              json.RawMessage
	RaeumlicheVerfuegbarkeit             json.RawMessage
	Verkehrsmittel                       *string
	BevorzugtesTherapeutengeschlecht     *string
	BevorzugtesTherapieverfahren         *string
	AusgeschlosseneTherapeuten           json.RawMessage
	// Address is the address the distance table knows the patient by
	// (matching.Address), "" without an ort.
	Address string
	// Removed: the patient service no longer has the patient; every other
	// field is empty.
	Removed bool
	// FetchedAt is the database's clock read before the fetch was sent.
	FetchedAt time.Time
}

// TherapistCopy is matching's copy of a therapist record.
type TherapistCopy struct {
	ID                         int64
	Anrede                     *string
	Titel                      *string
	Vorname                    *string
	Nachname                   *string
	Strasse                    *string
	PLZ                        *string
	Ort                        *string
	Telefon                    *string
	Email                      *string
	Status                     *string
	Geschlecht                 *string
	Psychotherapieverfahren    *string
	AlterMin                   *int
	AlterMax                   *int
	Geschlechtspraeferenz      *string
	BevorzugtGruppentherapie   *bool
	PotenziellVerfuegbar       *bool
	UeberCuravaniInformiert    *bool
	NaechsterKontaktMoeglich   *string
	BevorzugteDiagnosen        json.RawMessage
	TelefonischeErreichbarkeit json.RawMessage
	Address                    string
	Removed                    bool
	FetchedAt                  time.Time
}

const patientCopyColumns = `patient_id, vorname, nachname, strasse, plz, ort, geschlecht, geburtsdatum,
	symptome, krankenkasse, erfahrung_mit_psychotherapie, letzte_sitzung_vorherige_psychotherapie,
	offen_fuer_gruppentherapie, zeitliche_verfuegbarkeit, raeumliche_verfuegbarkeit, verkehrsmittel,
	bevorzugtes_therapeutengeschlecht, bevorzugtes_therapieverfahren, ausgeschlossene_therapeuten,
	address, removed, fetched_at`

// fields are the copied fields in the order of patientCopyColumns (id first,
// bookkeeping last); their JSON is the content hash.
func (c *PatientCopy) fields() []any {
	return []any{&c.ID, &c.Vorname, &c.Nachname, &c.Strasse, &c.PLZ, &c.Ort, &c.Geschlecht, &c.Geburtsdatum,
		(*jsonCol)(&c.Symptome), &c.Krankenkasse, &c.ErfahrungMitPsychotherapie, &c.LetzteSitzungVorherigePsychotherapie,
		&c.OffenFuerGruppentherapie, (*jsonCol)(&c.ZeitlicheVerfuegbarkeit), (*jsonCol)(&c.RaeumlicheVerfuegbarkeit), &c.Verkehrsmittel,
		&c.BevorzugtesTherapeutengeschlecht, &c.BevorzugtesTherapieverfahren, (*jsonCol)(&c.AusgeschlosseneTherapeuten),
		&c.Address, &c.Removed, &c.FetchedAt}
}

const therapistCopyColumns = `therapist_id, anrede, titel, vorname, nachname, strasse, plz, ort, telefon,
	email, status, geschlecht, psychotherapieverfahren, alter_min, alter_max, geschlechtspraeferenz,
	bevorzugt_gruppentherapie, potenziell_verfuegbar, ueber_curavani_informiert, naechster_kontakt_moeglich,
	bevorzugte_diagnosen, telefonische_erreichbarkeit, address, removed, fetched_at`

func (c *TherapistCopy) fields() []any {
	return []any{&c.ID, &c.Anrede, &c.Titel, &c.Vorname, &c.Nachname, &c.Strasse, &c.PLZ, &c.Ort, &c.Telefon,
		&c.Email, &c.Status, &c.Geschlecht, &c.Psychotherapieverfahren, &c.AlterMin, &c.AlterMax, &c.Geschlechtspraeferenz,
		&c.BevorzugtGruppentherapie, &c.PotenziellVerfuegbar, &c.UeberCuravaniInformiert, &c.NaechsterKontaktMoeglich,
		(*jsonCol)(&c.BevorzugteDiagnosen), (*jsonCol)(&c.TelefonischeErreichbarkeit), &c.Address, &c.Removed, &c.FetchedAt}
}

// jsonCol reads and writes a jsonb column as raw JSON, keeping SQL NULL (an
// absent key) apart from the JSON null the service may have sent.
type jsonCol json.RawMessage

// Scan implements sql.Scanner.
func (j *jsonCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*j = nil
	case []byte:
		*j = append(jsonCol(nil), v...)
	case string:
		*j = jsonCol(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		*j = b
	}
	return nil
}

// args turns the fields into statement arguments: the JSON ones as text
// (nil is SQL NULL).
func args(fields []any) []any {
	out := make([]any, len(fields))
	for i, f := range fields {
		switch v := f.(type) {
		case *jsonCol:
			if *v == nil {
				out[i] = nil
			} else {
				out[i] = string(*v)
			}
		default:
			out[i] = f
		}
	}
	return out
}

// contentHash is the hash of the copied fields (everything but the fetch
// time): two fetches of an unchanged record give the same hash.
func contentHash(fields []any) ([]byte, error) {
	b, err := json.Marshal(fields[:len(fields)-1])
	if err != nil {
		return nil, fmt.Errorf("hash copy: %w", err)
	}
	h := sha256.Sum256(b)
	return h[:], nil
}

// CopyChange is the outcome of storing a fetched record.
type CopyChange struct {
	// Stored is false when the copy holds a fetch that started later: the
	// record was older than what matching has and was dropped.
	Stored bool
	// Changed reports whether the copied fields changed: a new record, a
	// changed field or a removal. A refresh with the same fields is stored
	// (the fetch time moves on) but is no change.
	Changed bool
	// OldAddress is the address the copy had before a change, "" when there
	// was no copy.
	OldAddress string
}

// upsertCopy is the one statement of both copies: insert, or replace a copy
// fetched earlier (at the same instant, the later writer wins), noting the
// fetch time as changed_at when the content hash differs. prev reads the
// row before the statement for its address; under a concurrent first
// insert it is empty, which only costs a distance invalidation that
// directory-sync makes up for.
func upsertCopy(ctx context.Context, tx pgx.Tx, table, key, columns string, fields []any) (CopyChange, error) {
	hash, err := contentHash(fields)
	if err != nil {
		return CopyChange{}, err
	}
	n := len(fields)
	placeholders := ""
	for i := 1; i <= n; i++ {
		placeholders += fmt.Sprintf("$%d, ", i)
	}
	set := ""
	for _, col := range splitColumns(columns)[1:] {
		set += fmt.Sprintf("%s = EXCLUDED.%s, ", col, col)
	}
	q := fmt.Sprintf(`
		WITH prev AS (SELECT address, removed FROM matching_service.%[1]s WHERE %[2]s = $1)
		INSERT INTO matching_service.%[1]s AS c (%[3]s, content_hash, changed_at)
		VALUES (%[4]s$%[5]d, $%[6]d)
		ON CONFLICT (%[2]s) DO UPDATE SET %[7]s
			content_hash = EXCLUDED.content_hash,
			changed_at = CASE WHEN c.content_hash IS DISTINCT FROM EXCLUDED.content_hash
			                  THEN EXCLUDED.fetched_at ELSE c.changed_at END
		WHERE c.fetched_at <= EXCLUDED.fetched_at
		RETURNING c.changed_at = c.fetched_at,
		          COALESCE((SELECT CASE WHEN prev.removed THEN '' ELSE prev.address END FROM prev), '')`,
		table, key, columns, placeholders, n+1, n, set)
	a := args(fields)
	a = append(a, hash)
	var ch CopyChange
	err = tx.QueryRow(ctx, q, a...).Scan(&ch.Changed, &ch.OldAddress)
	if errors.Is(err, pgx.ErrNoRows) {
		return CopyChange{}, nil
	}
	if err != nil {
		return CopyChange{}, fmt.Errorf("store %s: %w", table, err)
	}
	ch.Stored = true
	if !ch.Changed {
		ch.OldAddress = ""
	}
	return ch, nil
}

func splitColumns(columns string) []string {
	var out []string
	cur := ""
	for _, r := range columns {
		switch r {
		case ',':
			out = append(out, cur)
			cur = ""
		case ' ', '\t', '\n':
		default:
			cur += string(r)
		}
	}
	return append(out, cur)
}

// StorePatientCopy stores a fetched patient (or, with Removed, its removal)
// unless the copy holds a later fetch.
func StorePatientCopy(ctx context.Context, tx pgx.Tx, c PatientCopy) (CopyChange, error) {
	if c.Removed {
		c = PatientCopy{ID: c.ID, Removed: true, FetchedAt: c.FetchedAt}
	}
	return upsertCopy(ctx, tx, "patient_copy", "patient_id", patientCopyColumns, c.fields())
}

// StoreTherapistCopy stores a fetched therapist (or its removal) unless the
// copy holds a later fetch.
func StoreTherapistCopy(ctx context.Context, tx pgx.Tx, c TherapistCopy) (CopyChange, error) {
	if c.Removed {
		c = TherapistCopy{ID: c.ID, Removed: true, FetchedAt: c.FetchedAt}
	}
	return upsertCopy(ctx, tx, "therapist_copy", "therapist_id", therapistCopyColumns, c.fields())
}

// PatientCopies reads the copies of the patients, tombstones included; a
// patient without a row is not in the map.
func PatientCopies(ctx context.Context, db DB, ids []int64) (map[int64]PatientCopy, error) {
	rows, err := db.Query(ctx, `SELECT `+patientCopyColumns+`
		FROM matching_service.patient_copy WHERE patient_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read patient copies: %w", err)
	}
	out := make(map[int64]PatientCopy, len(ids))
	for rows.Next() {
		var c PatientCopy
		if err := rows.Scan(c.fields()...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read patient copies: %w", err)
		}
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read patient copies: %w", err)
	}
	return out, nil
}

// TherapistCopies reads the copies of the therapists, tombstones included.
func TherapistCopies(ctx context.Context, db DB, ids []int64) (map[int64]TherapistCopy, error) {
	rows, err := db.Query(ctx, `SELECT `+therapistCopyColumns+`
		FROM matching_service.therapist_copy WHERE therapist_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read therapist copies: %w", err)
	}
	out := make(map[int64]TherapistCopy, len(ids))
	for rows.Next() {
		var c TherapistCopy
		if err := rows.Scan(c.fields()...); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read therapist copies: %w", err)
		}
		out[c.ID] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read therapist copies: %w", err)
	}
	return out, nil
}

// ActiveTherapistCopies lists the copied therapists with status aktiv whose
// PLZ starts with prefix, in id order: what the therapist service's
// GET /api/therapists?status=aktiv&plz_prefix= lists.
func ActiveTherapistCopies(ctx context.Context, db DB, prefix string) ([]TherapistCopy, error) {
	rows, err := db.Query(ctx, `SELECT `+therapistCopyColumns+`
		FROM matching_service.therapist_copy
		WHERE status = 'aktiv' AND NOT removed AND starts_with(plz, $1)
		ORDER BY therapist_id`, prefix)
	if err != nil {
		return nil, fmt.Errorf("read aktiv therapist copies: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TherapistCopy, error) {
		var c TherapistCopy
		err := r.Scan(c.fields()...)
		return c, err
	})
}

// DatabaseNow is the database's clock: the fetch time of a copy is read
// from it before the fetch is sent, so that fetches of every process
// compare on one clock.
func DatabaseNow(ctx context.Context, db DB) (time.Time, error) {
	var t time.Time
	if err := db.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&t); err != nil {
		return time.Time{}, fmt.Errorf("read the database clock: %w", err)
	}
	return t, nil
}

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
