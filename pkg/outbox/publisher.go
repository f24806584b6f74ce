package outbox

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

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
	// keysInParallel is how many ordering keys are sent at the same time;
	// the rows of one ordering key are always sent one after the other.
	keysInParallel = 16
	// batchInterval is the least time between the starts of two batches of
	// Publish under load (see flush, the Publisher's doc and DESIGN.md): the
	// longest an event waits to be gathered into a batch.
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
// Order per entity: a row is sent only when no older row of its ordering
// key is unpublished, and only by the publisher holding its row lock. The
// ordering key is the entity and id the event is about ("anfrage:2",
// events.Outgoing.OrderingKey); the partition key (the seed's Kafka key, the
// bare id) is shared by unrelated entities, and ordering by it let a stuck
// event of search 2 hold back anfrage 2's. Below, "key" is the ordering key. Both
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
// per batch, and the request neither waits nor holds a connection of the
// pool for the sends.
//
// A batch costs the database nearly as much for one row as for dozens, so
// under load (the previous batch took several calls) a batch starts at most
// every batchInterval and takes what gathered meanwhile; a lone call goes at
// once, and Flush and Close do not wait. DESIGN.md in this directory has the
// measurements behind this shape and the designs it replaced.
//
// What this gives up: when Publish returns the event is queued, not sent
// (Flush waits for it). A process that dies with rows in the queue leaves
// them to the relay, as one that dies during a send does; the
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
