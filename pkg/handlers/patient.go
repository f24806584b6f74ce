package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
)

// PatientDeletedNote is the note a search cancelled by patient.deleted gets.
const PatientDeletedNote = "Cancelled: Patient deleted from system"

// Patient returns the handler of patient-events. patient.deleted cancels the
// patient's aktiv and pausiert searches; patient.updated is logged;
// patient.created and every other type is acknowledged without effect.
//
// WithCopy makes it keep matching's copy as well (enhancements A1):
// patient.created and patient.updated of a patient with an open search (or
// a copy) fetch her record and store it; patient.deleted also removes the
// copy; a change re-checks her unsent anfragen after the commit.
func Patient(pool *pgxpool.Pool, pub inbox.Publisher, log *slog.Logger, opts ...Option) *inbox.Processor {
	log = logger(log)
	o := apply(opts)
	p := &inbox.Processor{
		Consumer:  PatientGroup,
		Pool:      pool,
		Publisher: pub,
		Routes: map[string]inbox.Func{
			events.PatientDeleted: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				return patientDeleted(ctx, tx, in, log)
			},
			events.PatientUpdated: func(_ context.Context, _ pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				patientUpdated(in, log)
				return nil, nil
			},
		},
		Pipelined: map[string]inbox.Queued{events.PatientDeleted: patientDeletedQueued(log)},
	}
	if c := o.copy; c.Directory != nil {
		p.Routes, p.Pipelined = nil, nil
		deleted := func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
			return patientDeleted(ctx, tx, in, log)
		}
		p.Prepared = map[string]inbox.Prepare{
			events.PatientCreated: refresh(c, log, fetchPatient(c, log), nil),
			events.PatientUpdated: refresh(c, log, fetchPatient(c, log), nil),
			events.PatientDeleted: refresh(c, log, removePatient(c), deleted),
		}
	}
	return p
}

// fetchPatient fetches the patient an event names, if the copy keeps her
// (she has an open search or a copy); an outage fails the event, to be
// delivered again.
func fetchPatient(c Copy, log *slog.Logger) fetchFunc {
	return func(ctx context.Context, in events.Inbound) (storeFunc, error) {
		id, err := events.ParsePatientID(in.Payload)
		if err != nil {
			return nil, err
		}
		keep, err := c.Directory.InScope(ctx, id)
		if err != nil {
			return nil, err
		}
		if !keep {
			log.Info("patient has no open search: not copied", slog.Any("", in), slog.Int64("patient_id", id))
			return nil, nil
		}
		f, err := c.Directory.FetchPatient(ctx, id)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx pgx.Tx, cause string) (directory.Stored, error) {
			return c.Directory.StorePatient(ctx, tx, f, cause)
		}, nil
	}
}

// removePatient removes the copy of the patient patient.deleted names; it
// fetches nothing.
func removePatient(c Copy) fetchFunc {
	return func(_ context.Context, in events.Inbound) (storeFunc, error) {
		d, err := events.ParsePatientDeleted(in.Payload)
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, tx pgx.Tx, cause string) (directory.Stored, error) {
			return c.Directory.RemovePatient(ctx, tx, d.PatientID, cause)
		}, nil
	}
}

// patientDeleted cancels every open (aktiv or pausiert) search of the
// patient with one UPDATE and emits search.status_changed for each. The
// patient may have no open search left (the reference's database cascade
// often removed them first): that is a successful no-op.
func patientDeleted(ctx context.Context, tx pgx.Tx, in events.Inbound, log *slog.Logger) ([]events.Outgoing, error) {
	d, err := events.ParsePatientDeleted(in.Payload)
	if err != nil {
		return nil, err
	}
	cancelled, err := store.CancelPatientSearches(ctx, tx, d.PatientID, patientDeletedNote(in), in.At)
	if err != nil {
		return nil, err
	}
	return searchesCancelled(in, d.PatientID, cancelled, log), nil
}

// patientDeletedQueued is patientDeleted in the form a batch sends with
// its other events' statements in one round trip (inbox.Queued): the same
// statement, the same events emitted, the same log line.
func patientDeletedQueued(log *slog.Logger) inbox.Queued {
	return func(b *pgx.Batch, in events.Inbound) (func(pgx.BatchResults) ([]events.Outgoing, error), error) {
		d, err := events.ParsePatientDeleted(in.Payload)
		if err != nil {
			return nil, err
		}
		read := store.QueueCancelPatientSearches(b, d.PatientID, patientDeletedNote(in), in.At)
		return func(br pgx.BatchResults) ([]events.Outgoing, error) {
			cancelled, err := read(br)
			if err != nil {
				return nil, err
			}
			return searchesCancelled(in, d.PatientID, cancelled, log), nil
		}, nil
	}
}

func patientDeletedNote(in events.Inbound) string {
	return matching.Note(in.At, matching.AuthorSystem, PatientDeletedNote)
}

// searchesCancelled is what patient.deleted emits for the searches it
// cancelled, and its log line.
func searchesCancelled(in events.Inbound, patientID int64, cancelled []store.CancelledSearch, log *slog.Logger) []events.Outgoing {
	out := make([]events.Outgoing, 0, len(cancelled))
	ids := make([]int64, 0, len(cancelled))
	for _, s := range cancelled {
		old := s.OldStatus
		out = append(out, events.NewSearchStatusChanged(events.SearchStatusChangedData{
			SearchID: s.ID, PatientID: s.PatientID, OldStatus: &old, NewStatus: matching.StatusAbgebrochen,
		}))
		ids = append(ids, s.ID)
	}
	log.Info("patient deleted: open searches cancelled", slog.Any("", in),
		slog.Int64("patient_id", patientID), slog.Any("search_ids", ids))
	return out
}

// patientUpdated logs which fields changed: the seed's updated_fields, or
// the keys of the patient service's patient_data. The values are health
// data and stay out of the logs.
func patientUpdated(in events.Inbound, log *slog.Logger) {
	var p struct {
		PatientID     json.RawMessage            `json:"patient_id"`
		UpdatedFields []string                   `json:"updated_fields"`
		PatientData   map[string]json.RawMessage `json:"patient_data"`
	}
	_ = json.Unmarshal(in.Payload, &p)
	fields := p.UpdatedFields
	if fields == nil {
		for k := range p.PatientData {
			fields = append(fields, k)
		}
		slices.Sort(fields)
	}
	log.Info("patient updated (no effect on matching yet)", slog.Any("", in),
		slog.String("patient_id", string(p.PatientID)), slog.Any("fields", fields))
}
