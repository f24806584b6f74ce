package store

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
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

// upsertQuery is the one statement of both copies: insert, or replace a
// copy fetched earlier (at the same instant, the later writer wins), noting
// the fetch time as changed_at when the content hash differs. Its arguments
// are the fields of columns, then the content hash. prev reads the row
// before the statement for its address; under a concurrent first insert it
// is empty, which only costs a distance invalidation that directory-sync
// makes up for.
func upsertQuery(table, key, columns string) string {
	cols := splitColumns(columns)
	placeholders, set := "", ""
	for i, col := range cols {
		placeholders += fmt.Sprintf("$%d, ", i+1)
		if i > 0 {
			set += fmt.Sprintf("%s = EXCLUDED.%s, ", col, col)
		}
	}
	return fmt.Sprintf(`
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
		table, key, columns, placeholders, len(cols)+1, len(cols), set)
}

var (
	upsertPatientCopy   = upsertQuery("patient_copy", "patient_id", patientCopyColumns)
	upsertTherapistCopy = upsertQuery("therapist_copy", "therapist_id", therapistCopyColumns)
)

// upsertCopies stores the rows (the fields of each) with query, all in one
// round trip (a pgx batch), and returns what each did, in order.
func upsertCopies(ctx context.Context, tx pgx.Tx, table, query string, rows [][]any) ([]CopyChange, error) {
	b := &pgx.Batch{}
	for _, fields := range rows {
		hash, err := contentHash(fields)
		if err != nil {
			return nil, err
		}
		b.Queue(query, append(args(fields), hash)...)
	}
	res := tx.SendBatch(ctx, b)
	defer res.Close()
	out := make([]CopyChange, len(rows))
	for i := range rows {
		var ch CopyChange
		err := res.QueryRow().Scan(&ch.Changed, &ch.OldAddress)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			continue
		case err != nil:
			return nil, fmt.Errorf("store %s: %w", table, err)
		}
		ch.Stored = true
		if !ch.Changed {
			ch.OldAddress = ""
		}
		out[i] = ch
	}
	if err := res.Close(); err != nil {
		return nil, fmt.Errorf("store %s: %w", table, err)
	}
	return out, nil
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

// StorePatientCopies stores fetched patients (or, with Removed, their
// removal), each unless the copy holds a later fetch of it, in one round
// trip; the changes come back in order.
func StorePatientCopies(ctx context.Context, tx pgx.Tx, cs []PatientCopy) ([]CopyChange, error) {
	rows := make([][]any, len(cs))
	for i, c := range cs {
		if c.Removed {
			c = PatientCopy{ID: c.ID, Removed: true, FetchedAt: c.FetchedAt}
		}
		rows[i] = c.fields()
	}
	return upsertCopies(ctx, tx, "patient_copy", upsertPatientCopy, rows)
}

// StoreTherapistCopies stores fetched therapists (or their removal) as
// StorePatientCopies does.
func StoreTherapistCopies(ctx context.Context, tx pgx.Tx, cs []TherapistCopy) ([]CopyChange, error) {
	rows := make([][]any, len(cs))
	for i, c := range cs {
		if c.Removed {
			c = TherapistCopy{ID: c.ID, Removed: true, FetchedAt: c.FetchedAt}
		}
		rows[i] = c.fields()
	}
	return upsertCopies(ctx, tx, "therapist_copy", upsertTherapistCopy, rows)
}

// PatientCopies reads the copies of the patients, tombstones included; a
// patient without a row is not in the map.
func PatientCopies(ctx context.Context, db DB, ids []int64) (map[int64]PatientCopy, error) {
	return readCopies[PatientCopy](ctx, db, "patient_copy", "patient_id", patientCopyColumns, ids)
}

// TherapistCopies reads the copies of the therapists, tombstones included.
func TherapistCopies(ctx context.Context, db DB, ids []int64) (map[int64]TherapistCopy, error) {
	return readCopies[TherapistCopy](ctx, db, "therapist_copy", "therapist_id", therapistCopyColumns, ids)
}

// copyRow is a copy type: its fields, the first being its id.
type copyRow[C any] interface {
	*C
	fields() []any
}

// readCopies reads the rows of ids from table, by id.
func readCopies[C any, P copyRow[C]](ctx context.Context, db DB, table, key, columns string, ids []int64) (map[int64]C, error) {
	rows, err := db.Query(ctx, `SELECT `+columns+` FROM matching_service.`+table+` WHERE `+key+` = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	defer rows.Close()
	out := make(map[int64]C, len(ids))
	for rows.Next() {
		var c C
		f := P(&c).fields()
		if err := rows.Scan(f...); err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		out[*f[0].(*int64)] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
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
