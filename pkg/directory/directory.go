// Package directory is matching's copy of the patients and therapists it
// needs (enhancements A1), with the distances between their addresses: the
// patients who have an aktiv or pausiert search and every therapist, with
// the fields of reference-behaviour §3.4 and the time each was fetched.
//
// The copy is kept current by the patient.* and therapist.* events (the
// consumers fetch the record and store it: Fetch… before their
// transaction, Store… in it), repaired nightly by directory-sync (Sync),
// and filled on use: a read that meets a patient or therapist the copy
// lacks fetches and stores it. A record is stored only over a copy fetched
// earlier, so fetches that finish out of order leave the newest state; a
// 404 removes the copy, an outage is an error and removes nothing. Every
// change of a copy writes a re-check request for the unsent anfragen of
// that patient or therapist in the same transaction (pkg/placement applies
// them).
//
// No transaction spans a call to a service: a View of the pool fetches what
// the copy lacks, a View of a transaction only reads and reports a lack as
// ErrMissing, for the caller to fetch it first and try again.
package directory

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// TherapistService is what the copy reads of the therapist service: one
// therapist, and the whole list for directory-sync.
type TherapistService interface {
	Therapist(ctx context.Context, id int64) (neighbours.Therapist, error)
	All(ctx context.Context) ([]neighbours.Therapist, error)
}

// Directory is the copy and the services behind it.
type Directory struct {
	Pool       *pgxpool.Pool
	Patients   neighbours.Patients
	Therapists TherapistService
	Distances  neighbours.Distances
	// Concurrency bounds the service calls one read makes at a time; 0
	// means 16.
	Concurrency int
	Log         *slog.Logger
}

// New returns the directory of the clients' services on pool.
func New(pool *pgxpool.Pool, clients *neighbours.Clients, log *slog.Logger) *Directory {
	return &Directory{Pool: pool, Patients: clients.Patients, Therapists: clients.Therapists,
		Distances: clients.Distances, Log: log}
}

func (d *Directory) concurrency() int {
	if d.Concurrency <= 0 {
		return 16
	}
	return d.Concurrency
}

func (d *Directory) log() *slog.Logger {
	if d.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Log
}

// compact removes the insignificant space of a JSON value, so that the same
// value sent with other spacing is no change; nil stays nil.
func compact(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// patientCopy is the copy of a patient record fetched at at.
func patientCopy(p neighbours.Patient, at time.Time) store.PatientCopy {
	return store.PatientCopy{
		ID: p.ID, Vorname: p.Vorname, Nachname: p.Nachname, Strasse: p.Strasse, PLZ: p.PLZ, Ort: p.Ort,
		Geschlecht: p.Geschlecht, Geburtsdatum: p.Geburtsdatum, Symptome: compact(p.Symptome),
		Krankenkasse: p.Krankenkasse, ErfahrungMitPsychotherapie: p.ErfahrungMitPsychotherapie,
		LetzteSitzungVorherigePsychotherapie: p.LetzteSitzungVorherigePsychotherapie,
		OffenFuerGruppentherapie:             p.OffenFuerGruppentherapie,
		ZeitlicheVerfuegbarkeit:              compact(p.ZeitlicheVerfuegbarkeit),
		RaeumlicheVerfuegbarkeit:             compact(p.RaeumlicheVerfuegbarkeit),
		Verkehrsmittel:                       p.Verkehrsmittel,
		BevorzugtesTherapeutengeschlecht:     p.BevorzugtesTherapeutengeschlecht,
		BevorzugtesTherapieverfahren:         p.BevorzugtesTherapieverfahren,
		AusgeschlosseneTherapeuten:           compact(p.AusgeschlosseneTherapeuten),
		Address:                              patientAddress(p),
		FetchedAt:                            at,
	}
}

// PatientOf is the patient record a copy holds (without Raw: the copy keeps
// only the fields matching reads).
func PatientOf(c store.PatientCopy) neighbours.Patient {
	return neighbours.Patient{
		ID: c.ID, Vorname: c.Vorname, Nachname: c.Nachname, Strasse: c.Strasse, PLZ: c.PLZ, Ort: c.Ort,
		Geschlecht: c.Geschlecht, Geburtsdatum: c.Geburtsdatum, Symptome: c.Symptome,
		Krankenkasse: c.Krankenkasse, ErfahrungMitPsychotherapie: c.ErfahrungMitPsychotherapie,
		LetzteSitzungVorherigePsychotherapie: c.LetzteSitzungVorherigePsychotherapie,
		OffenFuerGruppentherapie:             c.OffenFuerGruppentherapie,
		ZeitlicheVerfuegbarkeit:              c.ZeitlicheVerfuegbarkeit,
		RaeumlicheVerfuegbarkeit:             c.RaeumlicheVerfuegbarkeit,
		Verkehrsmittel:                       c.Verkehrsmittel,
		BevorzugtesTherapeutengeschlecht:     c.BevorzugtesTherapeutengeschlecht,
		BevorzugtesTherapieverfahren:         c.BevorzugtesTherapieverfahren,
		AusgeschlosseneTherapeuten:           c.AusgeschlosseneTherapeuten,
	}
}

// therapistCopy is the copy of a therapist record fetched at at.
func therapistCopy(t neighbours.Therapist, at time.Time) store.TherapistCopy {
	return store.TherapistCopy{
		ID: t.ID, Anrede: t.Anrede, Titel: t.Titel, Vorname: t.Vorname, Nachname: t.Nachname,
		Strasse: t.Strasse, PLZ: t.PLZ, Ort: t.Ort, Telefon: t.Telefon, Email: t.Email, Status: t.Status,
		Geschlecht: t.Geschlecht, Psychotherapieverfahren: t.Psychotherapieverfahren,
		AlterMin: t.AlterMin, AlterMax: t.AlterMax, Geschlechtspraeferenz: t.Geschlechtspraeferenz,
		BevorzugtGruppentherapie: t.BevorzugtGruppentherapie, PotenziellVerfuegbar: t.PotenziellVerfuegbar,
		UeberCuravaniInformiert: t.UeberCuravaniInformiert, NaechsterKontaktMoeglich: t.NaechsterKontaktMoeglich,
		BevorzugteDiagnosen:        compact(t.BevorzugteDiagnosen),
		TelefonischeErreichbarkeit: compact(t.TelefonischeErreichbarkeit),
		Address:                    therapistAddress(t),
		FetchedAt:                  at,
	}
}

// therapistOf is the therapist record a copy holds (without Raw).
func therapistOf(c store.TherapistCopy) neighbours.Therapist {
	return neighbours.Therapist{
		ID: c.ID, Anrede: c.Anrede, Titel: c.Titel, Vorname: c.Vorname, Nachname: c.Nachname,
		Strasse: c.Strasse, PLZ: c.PLZ, Ort: c.Ort, Telefon: c.Telefon, Email: c.Email, Status: c.Status,
		Geschlecht: c.Geschlecht, Psychotherapieverfahren: c.Psychotherapieverfahren,
		AlterMin: c.AlterMin, AlterMax: c.AlterMax, Geschlechtspraeferenz: c.Geschlechtspraeferenz,
		BevorzugtGruppentherapie: c.BevorzugtGruppentherapie, PotenziellVerfuegbar: c.PotenziellVerfuegbar,
		UeberCuravaniInformiert: c.UeberCuravaniInformiert, NaechsterKontaktMoeglich: c.NaechsterKontaktMoeglich,
		BevorzugteDiagnosen: c.BevorzugteDiagnosen, TelefonischeErreichbarkeit: c.TelefonischeErreichbarkeit,
	}
}
