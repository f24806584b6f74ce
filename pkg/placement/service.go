// Package placement holds the use cases of finding a patient a therapy place:
// the commands on searches (create, change, delete, the legacy contact
// request) and on anfragen (compose and create for a therapist, send, record
// the therapist's response, delete), the manual cooling period and the
// therapist selection list. Every caller goes through it: the anfrage API
// today, the email-reply processing and the real-time matching next.
//
// A command owns its transaction: it reads and locks through pkg/store,
// applies the rules of pkg/matching, writes the events it causes to the
// outbox in the same transaction (through Service.transact, the one place a
// command's transaction begins), publishes them after the commit and returns
// a domain result or a *fault.Error whose kind decides the answer. Patient,
// therapist, communication and geocoding data come through the small
// interfaces of pkg/neighbours, so that a local read model can replace the
// HTTP clients.
//
// The package knows no HTTP: request decoding and the reference's JSON
// shapes stay in pkg/api.
package placement

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// Publisher publishes committed outbox rows; *outbox.Publisher implements it.
type Publisher interface {
	Publish(ctx context.Context, ids []string)
}

// Config is what the use cases need.
type Config struct {
	Pool          *pgxpool.Pool
	Patients      neighbours.Patients
	Therapists    neighbours.Therapists
	Distances     neighbours.Distances
	Communication neighbours.Communication
	// Directory, if set, is matching's copy of the patients and therapists
	// (enhancements A): composition and the selection list read it instead
	// of asking the services per record, changes of the copy re-check the
	// unsent anfragen (Recheck), and a new search stores its patient in it.
	// Without it every read asks the services, as the reference did.
	Directory *directory.Directory
	// Publisher, if set, publishes the events of a command right after its
	// commit; what it cannot deliver stays in the outbox for the relay.
	Publisher Publisher
	Matching  config.Matching
	// Concurrency bounds the neighbour calls one command (or one API read
	// of a list page) makes at a time: the patients of an anfrage, the
	// candidates of a composition; 0 means 16.
	Concurrency int
	Log         *slog.Logger
	// Now is the clock (UTC); nil means time.Now.
	Now func() time.Time
	// ClaimTTL is how long a send's claim on an anfrage holds before
	// another sender may take it over (Send); 0 means store.ClaimTTL(5s).
	ClaimTTL time.Duration
}

// Service runs the use cases. It is safe for concurrent use.
type Service struct {
	cfg Config
	loc *time.Location
	log *slog.Logger
}

// WithDefaults returns c with its unset optional fields set: a logger that
// discards, time.Now, Concurrency 16, ClaimTTL for a 5 s neighbour timeout.
func (c Config) WithDefaults() Config {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = store.ClaimTTL(5 * time.Second)
	}
	return c
}

// New returns the service of cfg.
func New(cfg Config) *Service {
	cfg = cfg.WithDefaults()
	return &Service{cfg: cfg, loc: cfg.Matching.Location(), log: cfg.Log}
}

// now is the command's time: naive UTC at microsecond precision, as the
// timestamp columns store it.
func (s *Service) now() time.Time {
	return s.cfg.Now().UTC().Truncate(time.Microsecond)
}

// today is now in the service's TIMEZONE, for calendar-day rules (cooling
// dates, ages, the next working day).
func (s *Service) today(now time.Time) time.Time { return now.In(s.loc) }

// transact runs fn in one transaction and adds the events fn returns to the
// outbox in the same transaction; it returns their outbox ids once the
// transaction committed. Every command's transaction begins here, so what
// each transaction must carry (its cause, for the audit history) is set in
// one place.
func (s *Service) transact(ctx context.Context, fn func(tx pgx.Tx) ([]events.Outgoing, error)) ([]string, error) {
	var ids []string
	err := store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		out, err := fn(tx)
		if err != nil {
			return err
		}
		ids, err = outbox.Add(ctx, tx, out...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// publish hands committed outbox rows to the publisher. A caller that hung
// up does not cancel it: the change is committed, its events should go out
// now rather than wait for the relay. The publisher bounds its own wait.
func (s *Service) publish(ctx context.Context, ids []string) {
	if s.cfg.Publisher != nil && len(ids) > 0 {
		s.cfg.Publisher.Publish(context.WithoutCancel(ctx), ids)
	}
}

// logLifecycle writes the INFO line of a step in an anfrage's life
// (created, sent, answered) once the step has committed. The line carries
// the event the step emitted as every line about an event does: its type,
// id (the outbox row id, which becomes the CloudEvent id) and key (the
// anfrage id); ids are the outbox ids of the step, its lifecycle event
// first. Patients appear by id only, never by name.
func (s *Service) logLifecycle(ctx context.Context, msg, eventType string, anfrageID int64, ids []string, attrs ...slog.Attr) {
	if !s.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	id := ""
	if len(ids) > 0 {
		id = ids[0]
	}
	key := strconv.FormatInt(anfrageID, 10)
	all := append([]slog.Attr{slog.String("type", eventType), slog.String("id", id), slog.String("key", key),
		slog.Int64("anfrage_id", anfrageID)}, attrs...)
	s.log.LogAttrs(ctx, slog.LevelInfo, msg, all...)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
