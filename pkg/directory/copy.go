package directory

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// Fetched is a service's answer for one record: the record, or Gone when the
// service answered 404; At is the database's clock read before the request
// was sent, which orders it against every other fetch of the record.
type Fetched[T any] struct {
	ID     int64
	Record T
	Gone   bool
	At     time.Time
}

// FetchPatient asks the patient service for patient id. A 404 is a Fetched
// with Gone; an outage is the service's error (fault.Unavailable), for the
// caller to retry: it never removes the copy.
func (d *Directory) FetchPatient(ctx context.Context, id int64) (Fetched[neighbours.Patient], error) {
	return fetch(ctx, d, id, d.Patients.Patient)
}

// FetchTherapist asks the therapist service for therapist id, as
// FetchPatient does.
func (d *Directory) FetchTherapist(ctx context.Context, id int64) (Fetched[neighbours.Therapist], error) {
	return fetch(ctx, d, id, d.Therapists.Therapist)
}

func fetch[T any](ctx context.Context, d *Directory, id int64, get func(context.Context, int64) (T, error)) (Fetched[T], error) {
	at, err := store.DatabaseNow(ctx, d.Pool)
	if err != nil {
		return Fetched[T]{}, err
	}
	rec, err := get(ctx, id)
	switch {
	case fault.KindOf(err) == fault.NotFound:
		return Fetched[T]{ID: id, Gone: true, At: at}, nil
	case err != nil:
		return Fetched[T]{}, err
	}
	return Fetched[T]{ID: id, Record: rec, At: at}, nil
}

// Stored is what storing a fetched record did.
type Stored struct {
	store.CopyChange
	// Recheck is the id of the re-check request the change wrote, 0 when
	// none.
	Recheck int64
}

// StorePatient stores a fetched patient in tx, unless the copy holds a
// later fetch; a Gone patient removes the copy. When the copy changed and
// cause is not empty (the event or job that fetched it), it asks in the
// same transaction for her unsent anfragen to be re-checked. When her
// address changed, the distances from the old one go.
func (d *Directory) StorePatient(ctx context.Context, tx pgx.Tx, f Fetched[neighbours.Patient], cause string) (Stored, error) {
	st, err := d.StorePatients(ctx, tx, []Fetched[neighbours.Patient]{f}, cause)
	if err != nil {
		return Stored{}, err
	}
	return st[0], nil
}

// StorePatients stores fetched patients as StorePatient does, the copies
// in one round trip.
func (d *Directory) StorePatients(ctx context.Context, tx pgx.Tx, fs []Fetched[neighbours.Patient], cause string) ([]Stored, error) {
	copies := make([]store.PatientCopy, len(fs))
	for i, f := range fs {
		copies[i] = store.PatientCopy{ID: f.ID, Removed: true, FetchedAt: f.At}
		if !f.Gone {
			copies[i] = patientCopy(f.Record, f.At)
			copies[i].ID = f.ID
		}
	}
	chs, err := store.StorePatientCopies(ctx, tx, copies)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, len(fs))
	for i, ch := range chs {
		if out[i], err = afterStore(ctx, tx, ch, copies[i].Address, store.ForgetPatientAddress, func() (int64, error) {
			return store.RequestRecheck(ctx, tx, fs[i].ID, 0, cause)
		}, cause); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// StoreTherapist stores a fetched therapist in tx as StorePatient does.
func (d *Directory) StoreTherapist(ctx context.Context, tx pgx.Tx, f Fetched[neighbours.Therapist], cause string) (Stored, error) {
	st, err := d.StoreTherapists(ctx, tx, []Fetched[neighbours.Therapist]{f}, cause)
	if err != nil {
		return Stored{}, err
	}
	return st[0], nil
}

// StoreTherapists stores fetched therapists as StoreTherapist does, the
// copies in one round trip.
func (d *Directory) StoreTherapists(ctx context.Context, tx pgx.Tx, fs []Fetched[neighbours.Therapist], cause string) ([]Stored, error) {
	copies := make([]store.TherapistCopy, len(fs))
	for i, f := range fs {
		copies[i] = store.TherapistCopy{ID: f.ID, Removed: true, FetchedAt: f.At}
		if !f.Gone {
			copies[i] = therapistCopy(f.Record, f.At)
			copies[i].ID = f.ID
		}
	}
	chs, err := store.StoreTherapistCopies(ctx, tx, copies)
	if err != nil {
		return nil, err
	}
	out := make([]Stored, len(fs))
	for i, ch := range chs {
		if out[i], err = afterStore(ctx, tx, ch, copies[i].Address, store.ForgetTherapistAddress, func() (int64, error) {
			return store.RequestRecheck(ctx, tx, 0, fs[i].ID, cause)
		}, cause); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// afterStore follows up a stored copy that changed: the distances of an
// address it left go, and with a cause a re-check is requested.
func afterStore(ctx context.Context, tx pgx.Tx, ch store.CopyChange, address string,
	forget func(context.Context, store.DB, string) error, recheck func() (int64, error), cause string) (Stored, error) {
	if !ch.Changed {
		return Stored{CopyChange: ch}, nil
	}
	if ch.OldAddress != address {
		if err := forget(ctx, tx, ch.OldAddress); err != nil {
			return Stored{}, err
		}
	}
	out := Stored{CopyChange: ch}
	if cause != "" {
		var err error
		if out.Recheck, err = recheck(); err != nil {
			return Stored{}, err
		}
	}
	return out, nil
}

// RemovePatient removes the copy of a patient the patient service deleted
// (patient.deleted), as of the database's clock now, and asks for her
// unsent anfragen to be re-checked.
func (d *Directory) RemovePatient(ctx context.Context, tx pgx.Tx, id int64, cause string) (Stored, error) {
	at, err := store.DatabaseNow(ctx, tx)
	if err != nil {
		return Stored{}, err
	}
	return d.StorePatient(ctx, tx, Fetched[neighbours.Patient]{ID: id, Gone: true, At: at}, cause)
}

// InScope reports whether the copy keeps patient id: she has an aktiv or
// pausiert search, or a copy already. A patient.created or patient.updated
// of anyone else is not fetched.
func (d *Directory) InScope(ctx context.Context, id int64) (bool, error) {
	return store.PatientInScope(ctx, d.Pool, id)
}

// storeFetched stores what a read fetched on use, in one transaction of
// its own, without re-check requests: a record stored for the first time
// changed nothing matching decided on.
func (d *Directory) storeFetched(ctx context.Context, patients []Fetched[neighbours.Patient], therapists []Fetched[neighbours.Therapist]) error {
	if len(patients) == 0 && len(therapists) == 0 {
		return nil
	}
	byID(patients)
	byID(therapists)
	return store.WithTx(ctx, d.Pool, func(tx pgx.Tx) error {
		if _, err := d.StorePatients(ctx, tx, patients, ""); err != nil {
			return err
		}
		_, err := d.StoreTherapists(ctx, tx, therapists, "")
		return err
	})
}

func patientAddress(p neighbours.Patient) string { return matching.PatientAddress(p.Matching()) }

func therapistAddress(t neighbours.Therapist) string {
	return matching.TherapistAddress(t.Matching())
}

// errorf wraps a read's failure with what it read.
func errorf(format string, args ...any) error { return fmt.Errorf("directory: "+format, args...) }
