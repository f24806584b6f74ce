package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// RelaySettings are the outbox-relay function's own environment besides
// config.Common; its main embeds them in its envconfig spec.
type RelaySettings struct {
	// Interval also runs the relay on this interval besides on POST (0, the
	// default: only on POST; the local stack uses 5s).
	Interval time.Duration `envconfig:"RELAY_INTERVAL" default:"0"`
	// How many days the tables that only grow keep their rows (0: for
	// ever); every run of the relay prunes what is due, in small batches
	// (store.Prune). The inbox must remember an event well past the time
	// Kafka keeps it; the outbox keeps published rows a week for
	// inspection; the history and the event log are kept for ever unless
	// HISTORY_RETENTION_DAYS says otherwise.
	InboxRetentionDays   int `envconfig:"INBOX_RETENTION_DAYS" default:"30"`
	OutboxRetentionDays  int `envconfig:"OUTBOX_RETENTION_DAYS" default:"7"`
	HistoryRetentionDays int `envconfig:"HISTORY_RETENTION_DAYS" default:"0"`
}

// Validate refuses a negative interval or number of days.
func (s RelaySettings) Validate() error {
	if s.Interval < 0 {
		return fmt.Errorf("RELAY_INTERVAL: must not be negative, got %s", s.Interval)
	}
	for name, days := range map[string]int{
		"INBOX_RETENTION_DAYS": s.InboxRetentionDays, "OUTBOX_RETENTION_DAYS": s.OutboxRetentionDays,
		"HISTORY_RETENTION_DAYS": s.HistoryRetentionDays,
	} {
		if days < 0 {
			return fmt.Errorf("%s: must not be negative (0 keeps the rows for ever), got %d", name, days)
		}
	}
	return nil
}

// Retention is what the settings keep, as store.Prune takes it.
func (s RelaySettings) Retention() store.Retention {
	day := 24 * time.Hour
	return store.Retention{
		Inbox:   time.Duration(s.InboxRetentionDays) * day,
		Outbox:  time.Duration(s.OutboxRetentionDays) * day,
		History: time.Duration(s.HistoryRetentionDays) * day,
	}
}

// Relayer publishes what is waiting in the outbox; *outbox.Publisher
// implements it.
type Relayer interface {
	Relay(ctx context.Context) (int, error)
}

// Relay returns the trigger of the outbox-relay function: one pass of the
// relay, logged when it delivered something. An error is returned for the
// runtime to log and answer.
func Relay(r Relayer, log *slog.Logger) func(ctx context.Context) error {
	log = logger(log)
	return func(ctx context.Context) error {
		n, err := r.Relay(ctx)
		if err != nil {
			return fmt.Errorf("outbox relay (%d published before the failure): %w", n, err)
		}
		if n > 0 {
			log.Info("outbox relay published events", slog.Int("published", n))
		}
		return nil
	}
}

// RecheckSweepJob is the job name of the relay's re-check sweep in the
// history's causes.
const RecheckSweepJob = "recheck-sweep"

// sweepAfter runs relay, then (with a copy) applies the re-checks that have
// waited longer than placement.RecheckSweepAge. Both run on every pass;
// the first error is returned.
func sweepAfter(relay func(ctx context.Context) error, c Copy, log *slog.Logger) func(ctx context.Context) error {
	if c.Placement == nil {
		return relay
	}
	log = logger(log)
	return func(ctx context.Context) error {
		err := relay(ctx)
		// The sweep is the cause of the re-checks it applies.
		ctx = store.WithCause(ctx, store.Cause{Kind: store.CauseJob, Job: RecheckSweepJob, RunID: store.NewRunID()})
		n, serr := c.Placement.SweepRechecks(ctx, placement.RecheckSweepAge)
		if n > 0 {
			log.Info("re-check sweep applied waiting re-checks", slog.Int("applied", n))
		}
		if serr != nil && err == nil {
			err = fmt.Errorf("re-check sweep (%d applied before the failure): %w", n, serr)
		}
		return err
	}
}

// Prune returns the retention step of the outbox-relay function: one
// store.Prune of what r says is due, logged when it removed something.
func Prune(pool *pgxpool.Pool, r store.Retention, log *slog.Logger) func(ctx context.Context) error {
	log = logger(log)
	return func(ctx context.Context) error {
		p, err := store.Prune(ctx, pool, r, time.Now())
		if p.Total() > 0 {
			log.Info("retention: old rows pruned", slog.Int64("processed_events", p.ProcessedEvents),
				slog.Int64("outbox", p.Outbox), slog.Int64("history", p.History), slog.Int64("event_log", p.EventLog))
		}
		if err != nil {
			return fmt.Errorf("retention: %w", err)
		}
		return nil
	}
}
