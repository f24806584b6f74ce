package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Retention says how long the tables that only grow keep their rows; a
// zero duration keeps them for ever. The outbox relay prunes with it
// (enhancements C4).
type Retention struct {
	// Inbox: processed_events rows (INBOX_RETENTION_DAYS). Keep them well
	// past the time Kafka keeps records, or a redelivered record would be
	// applied again.
	Inbox time.Duration
	// Outbox: published outbox rows, counted from their publication
	// (OUTBOX_RETENTION_DAYS). They move to the event log, which keeps the
	// emitted events with the history. Unpublished rows are never pruned.
	Outbox time.Duration
	// History: history and event log rows (HISTORY_RETENTION_DAYS). Of the
	// history older than this, each row's last state is kept (until the
	// row is deleted), so its state at any instant since the cutoff can
	// still be rebuilt.
	History time.Duration
	// Batch is how many rows one statement deletes (default 1000), and
	// MaxBatches how many such statements one run makes per table (default
	// 20): a run is bounded however much is due, the next run goes on.
	Batch      int
	MaxBatches int
}

// Pruned counts what one Prune removed.
type Pruned struct {
	ProcessedEvents, Outbox, History, EventLog int64
}

// Total is the number of rows Prune removed.
func (p Pruned) Total() int64 { return p.ProcessedEvents + p.Outbox + p.History + p.EventLog }

// Prune removes what r says is due at now, in small batches (each its own
// short transaction, so no lock is held for long and the tables stay
// available), and folds the business counters' increments into one row
// per counter (FoldCounters). It returns what it removed; on error, what it
// removed until then.
func Prune(ctx context.Context, pool *pgxpool.Pool, r Retention, now time.Time) (Pruned, error) {
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	if r.MaxBatches <= 0 {
		r.MaxBatches = 20
	}
	var p Pruned
	var err error
	if r.Inbox > 0 {
		// The rows with a payload move to the event log, as the outbox's
		// do below; rows from before the log have none and just go.
		// idx_processed_events_processed_at finds the oldest rows.
		p.ProcessedEvents, err = batches(ctx, pool, r, `
			WITH moved AS (
				DELETE FROM matching_service.processed_events d
				USING (SELECT consumer, dedupe_key FROM matching_service.processed_events
				       WHERE processed_at < $1 ORDER BY processed_at LIMIT $2) o
				WHERE d.consumer = o.consumer AND d.dedupe_key = o.dedupe_key
				RETURNING d.*
			), logged AS (
			INSERT INTO matching_service.event_log
				(id, at, direction, event_type, event_id, partition_key, consumer, dedupe_key, source, handled_at, payload,
				 platzsuche_id, anfrage_id, patient_id, therapist_id)
			SELECT COALESCE(log_id, nextval('matching_service.history_seq')), processed_at, 'consumed', event_type, event_id,
			       partition_key, consumer, dedupe_key, source, handled_at, payload,
			       platzsuche_id, anfrage_id, patient_id, therapist_id
			FROM moved WHERE payload IS NOT NULL
			RETURNING 0)
			SELECT count(*) FROM moved`, now.Add(-r.Inbox))
		if err != nil {
			return p, fmt.Errorf("prune processed_events: %w", err)
		}
	}
	if r.Outbox > 0 {
		// The rows leave the outbox for the event log, where the emitted
		// events are kept as long as the history: in one statement, so
		// none is lost or kept twice. idx_outbox_published_at holds only
		// published rows.
		p.Outbox, err = batches(ctx, pool, r, `
			WITH moved AS (
				DELETE FROM matching_service.outbox
				WHERE id IN (SELECT id FROM matching_service.outbox
				             WHERE published_at IS NOT NULL AND published_at < $1
				             ORDER BY published_at LIMIT $2)
				RETURNING log_id, created_at, event_type, id, partition_key, payload, cause
			), logged AS (
			INSERT INTO matching_service.event_log
				(id, at, direction, event_type, event_id, partition_key, payload, cause,
				 platzsuche_id, anfrage_id, patient_id, therapist_id)
			SELECT COALESCE(log_id, nextval('matching_service.history_seq')), created_at, 'emitted', event_type, id::text,
			       partition_key, payload::text, cause,
			       COALESCE(matching_service.json_id(payload, 'search_id'), matching_service.json_id(payload, 'platzsuche_id')),
			       matching_service.json_id(payload, 'anfrage_id'), matching_service.json_id(payload, 'patient_id'),
			       matching_service.json_id(payload, 'therapist_id')
			FROM moved
			RETURNING 0)
			SELECT count(*) FROM moved`, now.Add(-r.Outbox))
		if err != nil {
			return p, fmt.Errorf("prune outbox: %w", err)
		}
	}
	if r.History > 0 {
		if p.History, err = pruneHistory(ctx, pool, r, now.Add(-r.History)); err != nil {
			return p, fmt.Errorf("prune history: %w", err)
		}
		// The log is read oldest first by id; its time grows with the id
		// (the time a transaction began, nearly in the order it writes;
		// an emitted event moved from the outbox keeps its id and time),
		// so looking at the next Batch ids is enough, and a run that finds
		// nothing old reads Batch index entries, not the table.
		p.EventLog, err = batches(ctx, pool, r, `
			WITH gone AS (
				DELETE FROM matching_service.event_log
				WHERE id IN (SELECT id FROM (SELECT id, at FROM matching_service.event_log ORDER BY id LIMIT $2) o
				             WHERE at < $1)
				RETURNING 1)
			SELECT count(*) FROM gone`, now.Add(-r.History))
		if err != nil {
			return p, fmt.Errorf("prune event_log: %w", err)
		}
	}
	if err := FoldCounters(ctx, pool); err != nil {
		return p, err
	}
	return p, nil
}

// batches runs a statement that removes at most $2 rows older than $1 and
// says how many, until it removes fewer than a batch or MaxBatches ran, and
// returns how many it removed.
func batches(ctx context.Context, pool *pgxpool.Pool, r Retention, remove string, cutoff time.Time) (int64, error) {
	var n int64
	for range r.MaxBatches {
		var removed int64
		if err := pool.QueryRow(ctx, remove, cutoff, r.Batch).Scan(&removed); err != nil {
			return n, err
		}
		n += removed
		if removed < int64(r.Batch) {
			break
		}
	}
	return n, nil
}

// pruneHistory removes the history rows older than cutoff that no instant
// since cutoff needs: those a later change before cutoff superseded, and all
// of a row deleted before cutoff. It first moves the horizon to cutoff, so
// ?stand= and the replay refuse the instants whose state is gone. A sweep
// walks the old rows in id order from a cursor kept in history_retention,
// MaxBatches batches per run, and starts again from the beginning once it
// reaches rows newer than cutoff: a row kept as the last state before one
// cutoff is superseded at a later one.
func pruneHistory(ctx context.Context, pool *pgxpool.Pool, r Retention, cutoff time.Time) (int64, error) {
	var cursor int64
	err := pool.QueryRow(ctx, `
		INSERT INTO matching_service.history_retention AS h (horizon) VALUES ($1)
		ON CONFLICT (singleton) DO UPDATE SET horizon = GREATEST(h.horizon, EXCLUDED.horizon)
		RETURNING cursor`, cutoff).Scan(&cursor)
	if err != nil {
		return 0, err
	}
	var deleted int64
	for range r.MaxBatches {
		var (
			last   *int64
			oldest *time.Time
			n      int64
		)
		// The superseding row is looked up through the entity indexes:
		// a search's rows by platzsuche_id, an anfrage's and its patient
		// rows' by anfrage_id.
		err := pool.QueryRow(ctx, `
			WITH batch AS (
				SELECT id, at, tbl, op, row_id, anfrage_id FROM matching_service.history
				WHERE id > $1 ORDER BY id LIMIT $3
			), gone AS (
				SELECT b.id FROM batch b
				WHERE b.at < $2 AND (b.op = 'DELETE' OR EXISTS (
					SELECT 1 FROM matching_service.history n
					WHERE n.id > b.id AND n.at < $2 AND n.tbl = b.tbl AND n.row_id = b.row_id
					  AND ((b.tbl = 'platzsuche' AND n.platzsuche_id = b.row_id)
					    OR (b.tbl = 'therapeutenanfrage' AND n.anfrage_id = b.row_id)
					    OR (b.tbl = 'therapeut_anfrage_patient' AND n.anfrage_id = b.anfrage_id))))
			), del AS (
				DELETE FROM matching_service.history h USING gone g WHERE h.id = g.id RETURNING 1
			)
			SELECT (SELECT max(id) FROM batch), (SELECT min(at) FROM batch), (SELECT count(*) FROM del)`,
			cursor, cutoff, r.Batch).Scan(&last, &oldest, &n)
		if err != nil {
			return deleted, err
		}
		deleted += n
		// Past the rows older than cutoff (or at the end): the next run
		// sweeps from the beginning.
		if last == nil || !oldest.Before(cutoff) {
			cursor = 0
			break
		}
		cursor = *last
	}
	_, err = pool.Exec(ctx, `UPDATE matching_service.history_retention SET cursor = $1`, cursor)
	return deleted, err
}

// FoldCounters replaces the increments in business_counter by one row per
// counter holding their sum. It is one statement: a reader sees the
// increments or their sums, never a total lowered, and increments written
// meanwhile are not in its snapshot and stay as they are.
func FoldCounters(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := pool.Exec(ctx, `
		WITH d AS (DELETE FROM matching_service.business_counter RETURNING name, label, value)
		INSERT INTO matching_service.business_counter (name, label, value)
		SELECT name, label, sum(value) FROM d GROUP BY name, label`)
	if err != nil {
		return fmt.Errorf("fold business counters: %w", err)
	}
	return nil
}
