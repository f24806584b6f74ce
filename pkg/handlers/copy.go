package handlers

import (
	"context"
	"log/slog"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
)

// Settings are the environment of the patient-deleted and therapist-blocked
// functions (and the outbox relay's re-check sweep) besides config.Common:
// the services behind matching's copy of patients and therapists
// (enhancements A1) and the business parameters the re-checks of unsent
// anfragen apply (A3). A main embeds them in its envconfig spec.
type Settings struct {
	Neighbours config.Neighbours
	Matching   config.Matching
}

// Validate checks both blocks; the copy needs the patient, therapist and
// geocoding services.
func (s *Settings) Validate() error {
	if err := s.Neighbours.Validate(); err != nil {
		return err
	}
	if err := s.Neighbours.Require("PATIENT_SERVICE_URL", "THERAPIST_SERVICE_URL", "GEOCODING_SERVICE_URL"); err != nil {
		return err
	}
	return s.Matching.Validate()
}

// Spec is the whole environment of a function that keeps matching's copy
// (patient-deleted, therapist-blocked, directory-sync), and of
// communication-events, which records a therapist's reply with the same
// business parameters: the common block and Settings. Their mains load it
// with config.Load.
type Spec struct {
	config.Common
	Copy Settings
}

// Validate checks the common block, then the copy's settings.
func (s *Spec) Validate() error {
	if err := s.Common.Validate(); err != nil {
		return err
	}
	return s.Copy.Validate()
}

// Copy is what a handler needs to keep matching's copy: the directory, and
// the use cases that apply the re-checks a changed copy asks for.
type Copy struct {
	Directory *directory.Directory
	Placement *placement.Service
}

// NewCopy builds the copy of the settings' services on what runtime.Run
// opened. Without a patient service URL (the runtime's own tests run the
// functions so) it is the zero Copy: the handlers then keep no copy and act
// on patient.deleted and therapist.blocked alone, as before.
func (s Settings) NewCopy(d runtime.Deps) Copy {
	if s.Neighbours.PatientURL == "" {
		return Copy{}
	}
	clients := neighbours.NewClients(s.Neighbours)
	dir := directory.New(d.Pool, clients, d.Log)
	cfg := placement.Config{
		Pool: d.Pool, Patients: clients.Patients, Therapists: clients.Therapists, Distances: clients.Distances,
		Communication: clients.Communication, Directory: dir, Matching: s.Matching, Log: d.Log,
	}
	// A nil *outbox.Publisher in the interface would not compare nil.
	if d.Publisher != nil {
		cfg.Publisher = d.Publisher
	}
	return Copy{Directory: dir, Placement: placement.New(cfg)}
}

// DirectorySync is the directory-sync job with settings s on what
// runtime.Open opened: one directory.Sync, then the re-checks it asked
// for. Its main and the local stack run it.
func DirectorySync(s Settings, d runtime.Deps) directory.SyncJob {
	c := s.NewCopy(d)
	return directory.SyncJob{
		Directory: c.Directory,
		Rechecks:  func(ctx context.Context) (int, error) { return c.Placement.SweepRechecks(ctx, 0) },
		Log:       d.Log,
	}
}

// Option configures a handler.
type Option func(*options)

type options struct {
	copy Copy
}

// WithCopy makes a handler keep matching's copy: patient.* and therapist.*
// fetch the record and store it, and a changed copy re-checks the unsent
// anfragen after the commit.
func WithCopy(c Copy) Option { return func(o *options) { o.copy = c } }

func apply(opts []Option) options {
	var o options
	for _, fn := range opts {
		fn(&o)
	}
	return o
}

// storeFunc writes what a fetch read into the copy, in the event's
// transaction; cause names the event for the re-checks it asks for.
type storeFunc func(ctx context.Context, tx pgx.Tx, cause string) (directory.Stored, error)

// fetchFunc reads, before the transaction, the record an event is about,
// and returns how to store it (nil: nothing to store).
type fetchFunc func(ctx context.Context, in events.Inbound) (storeFunc, error)

// refresh is the prepared route of an event that changes one record of
// the copy: fetch, before the transaction, the record the event is about,
// then in the transaction run effect (the event's own effects, may be nil)
// and store the fetched record, asking for re-checks when it changed; after
// the commit apply them.
func refresh(c Copy, log *slog.Logger, fetch fetchFunc, effect inbox.Func) inbox.Prepare {
	return func(ctx context.Context, in events.Inbound) (inbox.Step, error) {
		storeIt, err := fetch(ctx, in)
		if err != nil {
			return inbox.Step{}, err
		}
		if storeIt == nil && effect == nil {
			return inbox.Step{}, nil
		}
		var rechecks []int64
		return inbox.Step{
			Apply: func(ctx context.Context, tx pgx.Tx, in events.Inbound) ([]events.Outgoing, error) {
				var out []events.Outgoing
				if effect != nil {
					var err error
					if out, err = effect(ctx, tx, in); err != nil {
						return nil, err
					}
				}
				if storeIt == nil {
					return out, nil
				}
				st, err := storeIt(ctx, tx, in.Type)
				if err != nil {
					return nil, err
				}
				if st.Recheck != 0 {
					rechecks = append(rechecks, st.Recheck)
				}
				log.Info("copy stored", slog.Any("", in), slog.Bool("stored", st.Stored), slog.Bool("changed", st.Changed))
				return out, nil
			},
			After: func(ctx context.Context) { c.Placement.ApplyRechecks(ctx, rechecks) },
		}, nil
	}
}
