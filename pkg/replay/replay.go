// Package replay answers "would today's code do the same with those
// events?" (enhancements C3). Run rebuilds the state of searches, anfragen
// and anfrage patients at an instant From from the history, in a scratch
// database migrated like production; re-applies the events consumed in
// [From, To) in their original order with today's handlers (the real
// inbox.Processor of each consumer); applies the other changes of the window
// (API requests, job runs) as they were recorded; and compares the result
// with the recorded state at To, field by field, and the events each
// replayed event emitted with those it emitted then.
//
// What makes a replay deterministic, and its limits:
//
//   - The handlers' clock is the event's recorded handling time
//     (events.Inbound.At), so notes and timestamps come out the same.
//   - Outbox ids are random: emitted events are compared by type, key and
//     payload.
//   - Rows a replayed event inserts get the ids they got then: before each
//     event the scratch database's sequences are set to the first id the
//     event inserted.
//   - Changes made outside matching's code (cause unknown: psql) are left
//     out unless Options.Manual says otherwise, so that a change by hand
//     shows as a difference. API requests and job runs are not re-run:
//     their recorded changes are applied, each changing only the fields it
//     changed then, so a difference an event made earlier is not painted
//     over.
//   - The order of the steps is the order of their last write (the shared
//     history sequence): a transaction that wrote a row after another
//     committed comes after it. Two transactions that only read each
//     other's rows concurrently may be replayed in either order.
//   - Only searches, anfragen and anfrage patients have a history; the
//     cooling table and matching's copy of patients and therapists do not.
//     The handlers run without neighbour services, so they keep no copy
//     and act on the events alone (as they do without PATIENT_SERVICE_URL);
//     what an event's re-checks changed after its commit (they read the
//     copy) is applied as recorded, like a request's changes. A handler
//     that reads the cooling table sees what the replay's own changes put
//     there.
package replay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store"
)

// Options configure Run.
type Options struct {
	// Source is the recorded database.
	Source *pgxpool.Pool
	// ScratchURL, when set, names an empty database to replay into (Run
	// migrates it and leaves it as the replay left it). Empty: Run creates
	// a database on Source's server and drops it when done.
	ScratchURL string
	// From and To bound the window: the state at From is rebuilt, the
	// events consumed in [From, To) are re-applied, the result is compared
	// with the state at To.
	From, To time.Time
	// Manual also applies, as recorded, the changes made outside
	// matching's code (cause unknown) in the window.
	Manual bool
	// Matching are the business parameters the handlers apply (the
	// functions' environment: config.Matching).
	Matching config.Matching
	Log      *slog.Logger
}

// Difference is one place where the replay's result differs from what was
// recorded.
type Difference struct {
	// Entity is a row ("platzsuche 12") or a consumed event
	// ("event matching-service-patient ce:/src#7").
	Entity string
	// Field is a column, "(row)" for a row only one side has, "emitted"
	// for an event's emitted events, "outcome" for an event the replay
	// could not apply, "applied" for a recorded change it could not apply.
	Field              string
	Recorded, Replayed string
}

// Report is what a replay did and found.
type Report struct {
	// Events were re-applied with today's handlers; Recorded steps
	// (requests, job runs) applied as recorded; Manual steps left out.
	Events, Recorded, Manual int
	Differences              []Difference
}

// Run replays the window of opts (see the package comment).
func Run(ctx context.Context, opts Options) (Report, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if !opts.From.Before(opts.To) {
		return Report{}, fmt.Errorf("the window is empty: from %s is not before to %s", opts.From.Format(time.RFC3339), opts.To.Format(time.RFC3339))
	}
	horizon, err := store.HistoryHorizon(ctx, opts.Source)
	if err != nil {
		return Report{}, err
	}
	if opts.From.Before(horizon) {
		return Report{}, fmt.Errorf("from %s is before the history's horizon %s (when it began or was pruned to)",
			opts.From.Format(time.RFC3339), horizon.Format(time.RFC3339))
	}
	scratch, drop, err := openScratch(ctx, opts)
	if err != nil {
		return Report{}, err
	}
	defer drop()

	start := time.Now()
	if err := loadState(ctx, opts.Source, scratch, opts.From); err != nil {
		return Report{}, err
	}
	steps, err := readSteps(ctx, opts.Source, opts.From, opts.To)
	if err != nil {
		return Report{}, err
	}
	opts.Log.Info("replay: state loaded, steps read", slog.Time("from", opts.From), slog.Time("to", opts.To),
		slog.Int("steps", len(steps)), slog.Duration("took", time.Since(start)))

	r := &runner{scratch: scratch, procs: processors(scratch, opts.Matching)}
	var report Report
	for _, s := range steps {
		switch {
		case s.event != nil:
			report.Events++
			report.Differences = append(report.Differences, r.replayEvent(ctx, s)...)
		case s.kind == store.CauseUnknown && !opts.Manual:
			report.Manual++
		default:
			report.Recorded++
			report.Differences = append(report.Differences, r.applyRecorded(ctx, s)...)
		}
	}
	diffs, err := compare(ctx, opts.Source, scratch, opts.From, opts.To)
	if err != nil {
		return report, err
	}
	report.Differences = append(report.Differences, diffs...)
	opts.Log.Info("replay done", slog.Int("events", report.Events), slog.Int("recorded", report.Recorded),
		slog.Int("manual", report.Manual), slog.Int("differences", len(report.Differences)), slog.Duration("took", time.Since(start)))
	return report, nil
}

// openScratch opens the database to replay into, migrated, and returns how
// to let go of it.
func openScratch(ctx context.Context, opts Options) (*pgxpool.Pool, func(), error) {
	cfg := opts.Source.Config().Copy()
	var name string
	if opts.ScratchURL != "" {
		c, err := pgxpool.ParseConfig(opts.ScratchURL)
		if err != nil {
			return nil, nil, errors.New("scratch database: not a valid PostgreSQL connection string")
		}
		cfg = c
	} else {
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		name = "matching_replay_" + hex.EncodeToString(b)
		if _, err := opts.Source.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return nil, nil, fmt.Errorf("create the scratch database (or give one): %w", err)
		}
		cfg.ConnConfig.Database = name
	}
	cfg.MaxConns = 2
	// The scratch database is thrown away: its commits need not wait for
	// the disk (the replay of 10,000 events took 53 s waiting for it, 33 s
	// without, on a busy machine).
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	dropDB := func() {
		if name != "" {
			_, _ = opts.Source.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err == nil {
		_, err = store.Migrate(ctx, pool)
	}
	if err == nil {
		// The scratch database's own history and counters are never read:
		// the replay compares rows and emitted events. Without their
		// triggers the 10,000 events took 18 s instead of 33.
		_, err = pool.Exec(ctx, `
			ALTER TABLE matching_service.platzsuche DISABLE TRIGGER history_insert_delete, DISABLE TRIGGER history_update;
			ALTER TABLE matching_service.therapeutenanfrage DISABLE TRIGGER history_insert_delete, DISABLE TRIGGER history_update,
				DISABLE TRIGGER business_count_insert, DISABLE TRIGGER business_count_update;
			ALTER TABLE matching_service.therapeut_anfrage_patient DISABLE TRIGGER history_insert_delete, DISABLE TRIGGER history_update;`)
	}
	if err != nil {
		if pool != nil {
			pool.Close()
		}
		dropDB()
		return nil, nil, fmt.Errorf("scratch database: %w", err)
	}
	return pool, func() { pool.Close(); dropDB() }, nil
}

// processor applies one recorded event in a transaction of its own;
// *inbox.Processor is one.
type processor interface {
	Process(ctx context.Context, in events.Inbound) (events.Outcome, error)
}

// processors are today's handlers of every consumer (handlers.Consumers),
// built as their functions build them, on the scratch database, without
// publishing and without neighbour services: the handlers then keep no
// copy of patients and therapists (which has no history) and act on the
// events alone; what the copy's re-checks changed after an event's commit
// is applied as recorded. By consumer name.
func processors(scratch *pgxpool.Pool, m config.Matching) map[string]processor {
	out := map[string]processor{}
	for _, c := range handlers.Consumers(handlers.Settings{Matching: m}) {
		if p, ok := c.New(runtime.Deps{Pool: scratch, Log: slog.New(slog.DiscardHandler)}).(processor); ok {
			out[c.Group] = p
		}
	}
	return out
}

// runner applies the steps to the scratch database.
type runner struct {
	scratch *pgxpool.Pool
	procs   map[string]processor
}

// replayEvent re-applies a consumed event with today's handler, its rows
// getting the ids they got then.
func (r *runner) replayEvent(ctx context.Context, s step) []Difference {
	ev := s.event
	entity := "event " + ev.Consumer + " " + ev.DedupeKey
	fail := func(replayed string) []Difference {
		return []Difference{{Entity: entity, Field: "outcome", Recorded: string(events.Processed), Replayed: replayed}}
	}
	p, ok := r.procs[ev.Consumer]
	if !ok {
		return fail("no consumer " + ev.Consumer + " any more")
	}
	if err := r.alignSequences(ctx, s.changes); err != nil {
		return fail("sequences: " + err.Error())
	}
	outcome, err := p.Process(ctx, events.Inbound{
		Type: ev.Type, ID: ev.EventID, Source: ev.Source, DedupeKey: ev.DedupeKey, Key: ev.Key,
		Payload: json.RawMessage(ev.Payload), At: ev.HandledAt.UTC(),
	})
	if err != nil {
		return fail(string(outcome) + ": " + err.Error())
	}
	if outcome != events.Processed {
		return fail(string(outcome))
	}
	return nil
}

// alignSequences sets the id sequence of each table the recorded step
// inserted into to just before the first id it inserted.
func (r *runner) alignSequences(ctx context.Context, changes []change) error {
	first := map[string]int64{}
	for _, c := range changes {
		if c.op == "INSERT" && (first[c.tbl] == 0 || c.rowID < first[c.tbl]) {
			first[c.tbl] = c.rowID
		}
	}
	for tbl, id := range first {
		if _, err := r.scratch.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)`,
			"matching_service."+tbl, max(id-1, 1), id > 1); err != nil {
			return err
		}
	}
	return nil
}

// applyRecorded applies the changes of a request or job run as they were
// recorded, in one transaction; an update sets only the fields it changed.
func (r *runner) applyRecorded(ctx context.Context, s step) []Difference {
	err := pgx.BeginFunc(ctx, r.scratch, func(tx pgx.Tx) error {
		for _, c := range s.changes {
			if err := applyChange(ctx, tx, c); err != nil {
				return fmt.Errorf("%s %s %d: %w", c.op, c.tbl, c.rowID, err)
			}
		}
		return nil
	})
	if err != nil {
		return []Difference{{Entity: "recorded " + s.describe(), Field: "applied", Recorded: "ok", Replayed: err.Error()}}
	}
	return nil
}

func applyChange(ctx context.Context, tx pgx.Tx, c change) error {
	table := "matching_service." + pgx.Identifier{c.tbl}.Sanitize()
	switch c.op {
	case "INSERT", "SNAPSHOT":
		_, err := tx.Exec(ctx, `INSERT INTO `+table+` SELECT * FROM jsonb_populate_record(NULL::`+table+`, $1) ON CONFLICT DO NOTHING`, []byte(c.after))
		return err
	case "DELETE":
		_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, c.rowID)
		return err
	}
	diff, err := store.DiffRows(c.before, c.after)
	if err != nil || len(diff) == 0 {
		return err
	}
	set := make([]string, len(diff))
	for i, d := range diff {
		col := pgx.Identifier{d.Field}.Sanitize()
		set[i] = col + " = r." + col
	}
	_, err = tx.Exec(ctx, `UPDATE `+table+` t SET `+strings.Join(set, ", ")+`
		FROM jsonb_populate_record(NULL::`+table+`, $1) r WHERE t.id = $2`, []byte(c.after), c.rowID)
	return err
}
