package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/sink"
)

// Defaults of the Publisher's options.
const (
	// DefaultInlineWait bounds the claim and the sends of one batch of
	// Publish: a sink that does not answer holds the batch's connection and
	// row locks at most this long before its rows are left to the relay.
	DefaultInlineWait = 2 * time.Second
	// DefaultBatchSize is how many rows one relay transaction claims. A
	// larger batch means fewer transactions; each claimed row stays locked
	// until the whole batch has been tried.
	DefaultBatchSize = 100
	// keysInParallel is how many partition keys are sent at the same time;
	// the rows of one key are always sent one after the other.
	keysInParallel = 16
	// batchInterval is the least time between the starts of two batches of
	// Publish under load (see flush and the Publisher's doc): the longest
	// an event waits to be gathered into a batch.
	batchInterval = 50 * time.Millisecond
	// maxBatchIDs bounds the rows of one batch of Publish: the rows one
	// transaction locks and one claim statement reads.
	maxBatchIDs = 1000
	// maxQueued bounds the rows waiting for a batch; Publish leaves what
	// comes beyond to the relay. It is reached only when the sink is much
	// slower than the handlers (a sink that hangs takes the inline wait per
	// batch).
	maxQueued = 10000
	// markTimeout bounds the statements that record the outcome of the
	// sends; they run even when the caller's context has ended, because a
	// lost mark costs a duplicate publish.
	markTimeout = 5 * time.Second
)

// Option configures a Publisher.
type Option func(*Publisher)

// WithInlineWait bounds the claim and the sends of each batch of Publish
// (default DefaultInlineWait), and how long Close goes on starting batches.
// What is not delivered by then stays in the outbox for the relay.
func WithInlineWait(d time.Duration) Option {
	return func(p *Publisher) {
		if d > 0 {
			p.wait = d
		}
	}
}

// WithBatchSize sets how many rows one relay transaction claims (default
// DefaultBatchSize).
func WithBatchSize(n int) Option {
	return func(p *Publisher) {
		if n > 0 {
			p.batch = n
		}
	}
}

// WithObserver registers fn to be called after every send attempt with the
// event type, the sender's error (nil when delivered) and the attempt's
// duration. The metrics package counts and times publications with it.
func WithObserver(fn func(eventType string, err error, d time.Duration)) Option {
	return func(p *Publisher) { p.observe = fn }
}

// Publisher publishes outbox rows through a sink: right after the commit that
// wrote them (Publish) and, for what could not be delivered then, later
// (Relay).
//
// Order per partition key: a row is sent only when no older row of its key
// is unpublished, and only by the publisher holding its row lock. Both
// Publish and Relay claim rows with SELECT … FOR UPDATE SKIP LOCKED in a
// transaction that lasts until the rows are marked, and in the same
// statement drop every claimed row that has an older unpublished row of its
// key they do not hold themselves — whether that row is failing or being
// sent by another publisher right now. Rows of one key are sent one after
// the other, each only after the previous one was acknowledged, and the
// first failure stops the key. So two publishers (inline and relay, or
// several instances) never send rows of one key out of order, and never send
// the same row at the same time.
//
// The order is that of seq among committed rows. Two transactions writing
// rows of one key at the same time could commit in the other order than
// their seq; the handlers do not, because events of one key come from changes
// of the row the key names (the search, the anfrage), and those changes
// serialise on its row lock.
//
// Delivery is at least once: a publisher that dies between the sink's
// acknowledgement and the commit of its mark, a mark lost to a crash (marks
// are committed without waiting for the WAL flush), or a send abandoned at
// its deadline that reaches the sink anyway, leads to a second publication
// of the same event. Consumers recognise it by the CloudEvent id, which is
// the outbox row id.
//
// Publishing after commit is batched and off the request's path. Publish
// only queues the ids; one goroutine per Publisher takes everything queued —
// the calls made while the previous batch was in flight — claims it with
// one statement, sends it (keys in parallel), and marks it with one
// statement, in one transaction on one pooled connection: two round trips
// per batch, and the request never waits. Before, every call paid that
// transaction itself and held one of the pool's connections (4 by default)
// for its sends while its request waited, and patient.deleted over HTTP
// with publish reached 0.42–0.51 of the bare pgx transaction
// (BenchmarkPatientDeletedPublished in pkg/handlers, pool of 4; 0.39–0.50
// with 8). A caller that waits for its batch instead (tried first) still
// reached mostly 0.48–0.55: the wait for the send and two round trips is
// most of a request's latency at a fixed concurrency.
//
// The cost of a batch is mostly fixed: PostgreSQL CPU per row was about
// 270 µs for a batch of 1, 60 for 8, 30 for 32, 20 for 64 (one backend's
// /proc time over 3,000 rows). So under load (the previous batch took
// several calls) a batch starts at most every batchInterval and takes what
// gathered meanwhile; a lone call goes at once, and Flush and Close do not
// wait. With 50 ms, patient.deleted over HTTP with publish through an HTTP
// sink reached 0.63–0.75 of the baseline with a pool of 4 and 0.57–0.73
// with 8, where the same handler without publishing reached 0.74–0.93 in
// the same runs (2 shared cores, other load). In CPU per event the
// publisher without the sends added 20–90 µs (a sink that accepts at once)
// and the send about 100 µs more, both ends of a loopback HTTP request in
// one process: what is left is the send itself and each row's lock and
// update.
//
// What this gives up: when Publish returns the event is queued, not sent
// (Flush waits for it). A process that dies with rows in the queue leaves
// them to the relay, as one that died during a send did before; the
// runtime calls Close once the function has drained, so that a stopping
// function sends what it queued. The queue is bounded (maxQueued rows);
// beyond it rows are left to the relay rather than held in memory. The
// events of one instance are published by one batch at a time, up to
// keysInParallel keys at once: a sink that hangs holds one connection, not
// every request's.
type Publisher struct {
	pool    *pgxpool.Pool
	sink    sink.Sender
	log     *slog.Logger
	wait    time.Duration
	batch   int
	observe func(eventType string, err error, d time.Duration)

	// mu guards the queue of rows handed to Publish and the state of the
	// goroutine publishing it.
	mu         sync.Mutex
	queueLimit int // maxQueued, but for tests
	queue      []*request
	queued     int      // rows in queue
	last       *request // the latest request queued (Flush waits for it)
	flushing   bool     // a flush goroutine runs
	overflow   int      // rows refused for a full queue, not yet logged
	closed     bool
	closeBy    time.Time     // after Close: no batch starts later
	abandoned  int           // rows Close's deadline left untried
	lastStart  time.Time     // when the last batch started
	lastCalls  int           // how many calls it completed
	flushers   int           // Flush calls waiting
	hurry      chan struct{} // wakes a flush waiting to gather rows
}

// NewPublisher returns a Publisher of the outbox in pool through s. A nil log
// discards the log lines.
func NewPublisher(pool *pgxpool.Pool, s sink.Sender, log *slog.Logger, opts ...Option) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{pool: pool, sink: s, log: log, wait: DefaultInlineWait, batch: DefaultBatchSize,
		queueLimit: maxQueued, hurry: make(chan struct{}, 1)}
	for _, o := range opts {
		o(p)
	}
	return p
}

// row is one claimed outbox row.
type row struct {
	id        string
	seq       int64
	eventType string
	key       string
	payload   []byte
	created   time.Time
	// inOrder is false when an older row of the key is unpublished and not
	// held by this publisher: the row must wait.
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
// against the rows the same statement locked (the claimed CTE), and
// idx_outbox_unpublished_key (partition_key, seq) makes it one index probe
// per row however large the backlog.
const claimColumns = `
SELECT c.id::text, c.seq, c.event_type, c.partition_key, c.payload, c.created_at,
       NOT EXISTS (
           SELECT 1 FROM matching_service.outbox o
           WHERE o.partition_key = c.partition_key
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
    SELECT id, seq, event_type, partition_key, payload, created_at
    FROM matching_service.outbox
    WHERE id = ANY($1::text[]::uuid[]) AND published_at IS NULL
    FOR UPDATE SKIP LOCKED
)` + claimColumns

// claimNext locks the oldest unpublished rows after the cursor seq $2, of
// keys not given up on in this run ($3), up to $1 rows. The partial index
// idx_outbox_unpublished serves the ORDER BY seq. Rows another publisher
// holds are skipped; rows of their key behind them come back with in_order
// false.
const claimNext = `
WITH claimed AS (
    SELECT id, seq, event_type, partition_key, payload, created_at
    FROM matching_service.outbox
    WHERE published_at IS NULL
      AND seq > $2
      AND partition_key <> ALL($3::text[])
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

// Publish hands the outbox rows ids, written by a transaction that has just
// committed, to the publisher and returns at once: it never blocks the
// request (ctx is not used; the publication outlives it). The rows are
// claimed, sent and marked published by the publisher's background batch,
// usually within milliseconds. A row that is not delivered — the sink
// refused or did not answer within the inline wait, an older row of its key
// is still unpublished, another publisher holds it, the queue was full, the
// process stopped first — stays in the outbox for the relay, with a warning
// in the log when its send failed. After Close the rows are left to the
// relay.
func (p *Publisher) Publish(_ context.Context, ids []string) {
	if len(ids) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.closed:
		p.log.Warn("outbox: publisher closed; the relay will deliver", "events", len(ids), "first_id", ids[0])
		return
	case p.queued >= p.queueLimit:
		// Counted and logged by the flush, off the request's path.
		p.overflow += len(ids)
		return
	}
	r := &request{ids: slices.Clone(ids), done: make(chan struct{})}
	p.queue = append(p.queue, r)
	p.queued += len(ids)
	p.last = r
	if !p.flushing {
		p.flushing = true
		go p.flush()
	}
}

// Flush waits until every row handed to Publish before the call has been
// tried (delivered, or left to the relay), or until ctx ends.
func (p *Publisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	r := p.last
	p.flushers++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.flushers--
		p.mu.Unlock()
	}()
	if r == nil {
		return nil
	}
	select {
	case p.hurry <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("outbox: flush: %w", ctx.Err())
	}
}

// Close stops taking rows and publishes what is queued, starting no batch
// later than the inline wait after the call: Close returns within the
// inline wait plus the marks (markTimeout), or when ctx ends. Rows it could
// not try are left to the relay, and the error says how many. The runtime
// calls it after the function's server and consumer have drained, before
// the sink closes.
func (p *Publisher) Close(ctx context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.closeBy = time.Now().Add(p.wait)
	}
	p.mu.Unlock()
	if err := p.Flush(ctx); err != nil {
		p.mu.Lock()
		n := p.queued
		p.mu.Unlock()
		return fmt.Errorf("outbox: close with %d events queued (the relay will deliver them): %w", n, err)
	}
	p.mu.Lock()
	n := p.abandoned
	p.mu.Unlock()
	if n > 0 {
		return fmt.Errorf("outbox: close: %d events not tried in time; the relay will deliver them", n)
	}
	return nil
}

// request is one Publish call waiting in the queue.
type request struct {
	ids  []string
	done chan struct{} // closed once all of ids have been tried
}

// batch is what one claim takes from the queue.
type batch struct {
	ids  []string
	done []chan struct{} // of the requests it completes
}

// flush publishes the queue batch after batch until it is empty. At most one
// flush runs per Publisher, so its batches follow each other: a key's rows
// queued in one instance are never sent by two of its batches at once.
func (p *Publisher) flush() {
	for {
		p.mu.Lock()
		// Under load (the last batch took several calls) a batch starts at
		// most every batchInterval, so that it takes more rows: the fixed
		// cost of a batch is spread over them. A lone call goes at once.
		if wait := time.Until(p.lastStart.Add(batchInterval)); wait > 0 && p.lastCalls > 1 &&
			!p.closed && p.flushers == 0 && p.queued < maxBatchIDs {
			p.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.hurry: // Flush or Close: no more waiting
				t.Stop()
			}
			p.mu.Lock()
		}
		p.lastStart = time.Now()
		b := p.take()
		p.lastCalls = len(b.done)
		overflow, closeBy := p.overflow, p.closeBy
		p.overflow = 0
		if len(b.ids) == 0 && len(b.done) == 0 {
			p.flushing = false
			p.mu.Unlock()
			p.logOverflow(overflow)
			return
		}
		p.mu.Unlock()
		p.logOverflow(overflow)
		if tried := p.publishBatch(b.ids, closeBy); !tried {
			p.mu.Lock()
			p.abandoned += len(b.ids)
			p.mu.Unlock()
		}
		for _, d := range b.done {
			close(d)
		}
	}
}

func (p *Publisher) logOverflow(n int) {
	if n > 0 {
		p.log.Warn("outbox: publish queue full; the relay will deliver", "events", n, "queue_limit", p.queueLimit)
	}
}

// take removes the oldest queued requests, up to maxBatchIDs rows, from the
// queue; a request larger than that is split over several batches. p.mu must
// be held.
func (p *Publisher) take() batch {
	var b batch
	for len(p.queue) > 0 {
		r := p.queue[0]
		room := maxBatchIDs - len(b.ids)
		if len(r.ids) > room {
			if len(b.ids) == 0 {
				b.ids = r.ids[:room:room]
				r.ids = r.ids[room:]
				p.queued -= room
			}
			break
		}
		b.ids = append(b.ids, r.ids...)
		b.done = append(b.done, r.done)
		p.queued -= len(r.ids)
		p.queue[0] = nil
		p.queue = p.queue[1:]
	}
	if len(p.queue) == 0 {
		p.queue = nil
	}
	return b
}

// publishBatch claims, sends and marks ids in one transaction, the claim and
// the sends bounded by the inline wait and, after Close, by its deadline. It
// reports false when it did not try because Close's deadline had passed.
func (p *Publisher) publishBatch(ids []string, closeBy time.Time) bool {
	now := time.Now()
	deadline := now.Add(p.wait)
	if !closeBy.IsZero() && closeBy.Before(deadline) {
		deadline = closeBy
	}
	if !deadline.After(now) {
		return false
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if _, err := p.claimAndSend(ctx, "inline", claimByID, ids); err != nil {
		p.log.Warn("outbox: publish after commit failed; the relay will deliver", "events", len(ids), "first_id", ids[0], "error", err)
	}
	return true
}

// Relay publishes every publishable row, oldest first, until none is left,
// and returns how many it published. A key whose oldest row fails is given
// up on for this run — its later rows wait — while the other keys proceed.
// Every failed attempt is recorded on its row (attempts, last_error). The
// error reports a database failure or, when some events could not be
// delivered, the first sink error.
func (p *Publisher) Relay(ctx context.Context) (published int, err error) {
	var (
		cursor   int64
		skipKeys = []string{}
		skipped  = map[string]bool{}
		failures int
		firstErr error
	)
	for {
		if err := ctx.Err(); err != nil {
			return published, fmt.Errorf("outbox relay: %w", err)
		}
		out, err := p.claimAndSend(ctx, "relay", claimNext, p.batch, cursor, skipKeys)
		if err != nil {
			return published, fmt.Errorf("outbox relay: %w", err)
		}
		published += len(out.sent)
		claimed := len(out.sent) + len(out.failed) + len(out.waiting)
		if claimed == 0 {
			break
		}
		giveUp := func(key string) {
			if !skipped[key] {
				skipped[key] = true
				skipKeys = append(skipKeys, key)
			}
		}
		for _, r := range out.sent {
			cursor = max(cursor, r.seq)
		}
		for _, f := range out.failed {
			cursor = max(cursor, f.row.seq)
			giveUp(f.row.key)
			failures++
			if firstErr == nil {
				firstErr = f.err
			}
		}
		for _, r := range out.waiting {
			cursor = max(cursor, r.seq)
			giveUp(r.key)
		}
	}
	if failures > 0 {
		return published, fmt.Errorf("outbox relay: %d events not delivered, %d keys waiting: %w", failures, len(skipKeys), firstErr)
	}
	return published, nil
}

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
		err := q.Scan(&r.id, &r.seq, &r.eventType, &r.key, &r.payload, &r.created, &r.inOrder)
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

// send delivers rows (in seq order): the rows of one key sequentially, up to
// keysInParallel keys at a time.
func (p *Publisher) send(ctx context.Context, rows []row) outcome {
	var keys []string
	byKey := map[string][]row{}
	var out outcome
	for _, r := range rows {
		// The claim marks a row out of order together with every later
		// row of its key.
		if !r.inOrder {
			out.waiting = append(out.waiting, r)
			continue
		}
		if _, ok := byKey[r.key]; !ok {
			keys = append(keys, r.key)
		}
		byKey[r.key] = append(byKey[r.key], r)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, keysInParallel)
	for _, key := range keys {
		krows := byKey[key]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for i, r := range krows {
				if ctx.Err() != nil {
					// Out of time: no attempt; this and the later rows wait.
					mu.Lock()
					out.waiting = append(out.waiting, krows[i:]...)
					mu.Unlock()
					return
				}
				err := p.sendOne(ctx, r)
				mu.Lock()
				if err != nil {
					out.failed = append(out.failed, failure{row: r, err: err})
					out.waiting = append(out.waiting, krows[i+1:]...)
					mu.Unlock()
					return
				}
				out.sent = append(out.sent, r)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out
}

// sendOne builds the CloudEvent of r and sends it.
func (p *Publisher) sendOne(ctx context.Context, r row) error {
	e, err := events.NewCloudEvent(r.id, r.eventType, r.key, r.created, r.payload)
	if err != nil {
		return fmt.Errorf("build CloudEvent: %w", err)
	}
	start := time.Now()
	err = p.sink.Send(ctx, e)
	if p.observe != nil {
		p.observe(r.eventType, err, time.Since(start))
	}
	return err
}

// Backlog returns how many rows are unpublished and the age of the oldest.
func (p *Publisher) Backlog(ctx context.Context) (count int, oldest time.Duration, err error) {
	var age float64
	err = p.pool.QueryRow(ctx, `
		SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
		FROM matching_service.outbox
		WHERE published_at IS NULL`).Scan(&count, &age)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox backlog: %w", err)
	}
	return count, time.Duration(age * float64(time.Second)), nil
}
