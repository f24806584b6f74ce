package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// row is one claimed outbox row.
type row struct {
	id        string
	seq       int64
	eventType string
	// key is the partition key (the record's Kafka key); order is what the
	// row is kept in order with (ordering_key: entity and id).
	key     string
	order   string
	payload []byte
	created time.Time
	// inOrder is false when an older row of its ordering key is
	// unpublished and not held by this publisher: the row must wait.
	inOrder bool
}

// failure is a row whose send failed.
type failure struct {
	row row
	err error
}

// outcome is what became of the rows of one claim.
type outcome struct {
	sent   []row
	failed []failure
	// waiting holds rows not sent for order's sake: an older row of their
	// key is unpublished elsewhere, failed, or was cut off by the deadline.
	waiting []row
}

// claimColumns is the select list of both claims; in_order is computed
// against the rows the same statement locked (the claimed CTE), per
// ordering key (entity and id, not the bare partition key: migration
// 00007), and idx_outbox_unpublished_order (ordering_key, seq) makes it one
// index probe per row however large the backlog.
const claimColumns = `
SELECT c.id::text, c.seq, c.event_type, c.partition_key, c.ordering_key, c.payload, c.created_at,
       NOT EXISTS (
           SELECT 1 FROM matching_service.outbox o
           WHERE o.ordering_key = c.ordering_key
             AND o.published_at IS NULL
             AND o.seq < c.seq
             AND o.id NOT IN (SELECT id FROM claimed)
       ) AS in_order
FROM claimed c
ORDER BY c.seq`

// The ids travel as text[] and are cast in SQL: pgx, given a []string for
// a uuid[] parameter, builds and discards an error for every element before
// it falls back to text (about 5 µs per row of a batch in a profile).

// claimByID locks the given rows that are still unpublished. A row another
// publisher holds is skipped rather than waited for: that publisher is
// sending it. The outer query (claimColumns) then tells which of the locked
// rows may be sent now.
const claimByID = `
WITH claimed AS (
    SELECT id, seq, event_type, partition_key, ordering_key, payload, created_at
    FROM matching_service.outbox
    WHERE id = ANY($1::text[]::uuid[]) AND published_at IS NULL
    FOR UPDATE SKIP LOCKED
)` + claimColumns

// claimNext locks the oldest unpublished rows after the cursor seq $2, of
// ordering keys not given up on in this run ($3), up to $1 rows. The
// partial index idx_outbox_unpublished serves the ORDER BY seq. Rows another
// publisher holds are skipped; rows of their ordering key behind them come
// back with in_order false.
const claimNext = `
WITH claimed AS (
    SELECT id, seq, event_type, partition_key, ordering_key, payload, created_at
    FROM matching_service.outbox
    WHERE published_at IS NULL
      AND seq > $2
      AND ordering_key <> ALL($3::text[])
    ORDER BY seq
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)` + claimColumns

// markPublished records delivered rows.
const markPublished = `
UPDATE matching_service.outbox
SET published_at = now(), attempts = attempts + 1
WHERE id = ANY($1::text[]::uuid[])`

// markFailed records a failed attempt and its error on each row.
const markFailed = `
UPDATE matching_service.outbox AS o
SET attempts = o.attempts + 1, last_error = f.err
FROM unnest($1::text[], $2::text[]) AS f(id, err)
WHERE o.id = f.id::uuid`

// claimAndSend claims rows with query and args in one transaction, sends the
// in-order ones (keys in parallel, each key's rows in sequence, a key stops at
// its first failure or when ctx ends), records the outcome and commits. The
// marks are written even when ctx has ended: the sends happened.
//
// The transaction costs two round trips to the database besides the sends:
// BEGIN travels in one pipeline with the claim, COMMIT in one with the marks.
func (p *Publisher) claimAndSend(ctx context.Context, mode, query string, args ...any) (outcome, error) {
	var out outcome
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return out, fmt.Errorf("acquire connection: %w", err)
	}
	// A connection given back inside a transaction (an error below) is
	// closed by the pool, which rolls the transaction back and frees the
	// row locks.
	defer conn.Release()

	rows, err := claim(ctx, conn, query, args...)
	if err != nil {
		return out, err
	}
	if len(rows) > 0 {
		out = p.send(ctx, rows)
	}
	for _, r := range out.waiting {
		p.log.Debug("outbox: event left for the relay: an older event of its key is not published yet",
			"mode", mode, "type", r.eventType, "id", r.id, "key", r.key)
	}

	markCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), markTimeout)
	defer cancel()
	if err := markAndCommit(markCtx, conn, out); err != nil {
		return outcome{waiting: rows}, err
	}
	for _, r := range out.sent {
		p.log.Info("event published", "mode", mode, "type", r.eventType, "id", r.id, "key", r.key)
	}
	for _, f := range out.failed {
		p.log.Warn("event not published; it stays in the outbox", "mode", mode, "type", f.row.eventType,
			"id", f.row.id, "key", f.row.key, "error", f.err)
	}
	return out, nil
}

// claim opens the transaction and runs the claim query in one pipeline.
func claim(ctx context.Context, conn *pgxpool.Conn, query string, args ...any) ([]row, error) {
	b := &pgx.Batch{}
	b.Queue(`BEGIN`)
	// The marks need no WAL flush of their own: losing one in a crash only
	// means the event is published again, which consumers tolerate. Waiting
	// for a second fsync per event would halve a handler's throughput.
	b.Queue(`SET LOCAL synchronous_commit = off`)
	b.Queue(query, args...)
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, fmt.Errorf("begin: %w", err)
		}
	}
	q, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	rows, err := pgx.CollectRows(q, func(q pgx.CollectableRow) (row, error) {
		var r row
		err := q.Scan(&r.id, &r.seq, &r.eventType, &r.key, &r.order, &r.payload, &r.created, &r.inOrder)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	return rows, br.Close()
}

// markAndCommit records the sent and failed rows and commits, in one pipeline.
func markAndCommit(ctx context.Context, conn *pgxpool.Conn, out outcome) error {
	b := &pgx.Batch{}
	if len(out.sent) > 0 {
		ids := make([]string, len(out.sent))
		for i, r := range out.sent {
			ids[i] = r.id
		}
		b.Queue(markPublished, ids)
	}
	if len(out.failed) > 0 {
		ids := make([]string, len(out.failed))
		errs := make([]string, len(out.failed))
		for i, f := range out.failed {
			ids[i], errs[i] = f.row.id, f.err.Error()
		}
		b.Queue(markFailed, ids, errs)
	}
	b.Queue(`COMMIT`)
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("mark and commit: %w", err)
	}
	return nil
}
