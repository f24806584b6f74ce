package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
)

// Result is what became of one event of a batch: its outcome and, for
// events.Rejected and events.Failed, the error (as Process returns them).
type Result struct {
	Outcome events.Outcome
	Err     error
}

// Handled is a consumed CloudEvent after HandleBatch: the event as far as
// decoding got (for logs) and its Result.
type Handled struct {
	In events.Inbound
	Result
}

// ErrNotAttempted is the error of the events ProcessInOrder did not try
// because an earlier event of the batch failed: they changed nothing and
// are to be delivered again after it.
var ErrNotAttempted = fault.Unavailablef("not attempted: an earlier event of the batch failed and is retried first")

// ProcessBatch processes decoded events (each with its At set) with exactly
// the result of processing them one at a time, in order, and returns one
// Result per event, in the same order. A Rejected event changes nothing and
// does not keep the others from applying; a Failed one is to be retried.
//
// It applies them in one transaction (see applyAll): Prepared routes do
// their remote reads first, outside it; one statement claims every
// deduplication key; each event is applied in order with itself as the
// cause of its changes; one statement writes every emitted event to the
// outbox; after the commit the rows are published together and the steps'
// After run, in order. An event whose effect fails inside the transaction
// is taken out and the rest applied again in a new one, so a poison event
// is rejected alone. Events with the same deduplication key are the same
// event: a repeat within the batch gets its first occurrence's result
// (Duplicate where that one applied).
func (p *Processor) ProcessBatch(ctx context.Context, ins []events.Inbound) []Result {
	return p.processBatch(ctx, ins, false)
}

// ProcessInOrder is ProcessBatch for a consumer of an ordered stream (a
// partition of a topic), which retries a failed event before it takes the
// next: it stops at the first Failed event; the events after it are Failed
// with ErrNotAttempted and change nothing. The events before it are
// committed, exactly as if they had been processed one at a time.
func (p *Processor) ProcessInOrder(ctx context.Context, ins []events.Inbound) []Result {
	return p.processBatch(ctx, ins, true)
}

// HandleBatch is Handle of several CloudEvents, in order, as ProcessInOrder
// applies them: each is decoded and stamped with the time it is applied
// (an event that does not decode is Rejected and skipped), then the rest
// are processed together. It returns one Handled per event, in order.
func (p *Processor) HandleBatch(ctx context.Context, es []cloudevents.Event) []Handled {
	out := make([]Handled, len(es))
	ins := make([]events.Inbound, 0, len(es))
	pos := make([]int, 0, len(es))
	at := time.Now().UTC().Truncate(time.Microsecond)
	for i, e := range es {
		in, err := events.Decode(e)
		out[i].In = in
		if err != nil {
			out[i].Result = Result{Outcome: events.Rejected, Err: err}
			continue
		}
		in.At = at
		out[i].In = in
		ins = append(ins, in)
		pos = append(pos, i)
	}
	for k, r := range p.ProcessInOrder(ctx, ins) {
		out[pos[k]].Result = r
	}
	return out
}

// flusher is a Publisher that can wait until what it was handed has been
// tried (*outbox.Publisher).
type flusher interface {
	Flush(ctx context.Context) error
}

// batch is one ProcessBatch call under way.
type batch struct {
	p       *Processor
	ins     []events.Inbound
	ordered bool
	steps   []Step
	// queued is, for an event of Routes, its route's pipelined form.
	queued  []Queued
	results []Result
	// first is, for a repeat of a key within the batch, the index of its
	// first occurrence; -1 otherwise.
	first []int
	// ids are the outbox ids of the events each event emitted.
	ids [][]string
}

func (p *Processor) processBatch(ctx context.Context, ins []events.Inbound, ordered bool) []Result {
	b := &batch{p: p, ins: ins, ordered: ordered, steps: make([]Step, len(ins)), queued: make([]Queued, len(ins)),
		results: make([]Result, len(ins)), first: make([]int, len(ins)), ids: make([][]string, len(ins))}
	if len(ins) == 0 {
		return b.results
	}
	stop := b.prepare(ctx)
	var todo []int
	for i := range stop {
		if b.first[i] < 0 && b.steps[i].Apply != nil {
			todo = append(todo, i)
		}
	}
	b.applyAll(ctx, todo)
	// Repeats take the result of their first occurrence.
	for i := range stop {
		if j := b.first[i]; j >= 0 {
			b.results[i] = b.results[j]
			if b.results[i].Outcome == events.Processed {
				b.results[i].Outcome = events.Duplicate
			}
		}
	}
	if ordered {
		b.stopAtFirstFailure()
	}
	b.publishAndAfter(ctx)
	return b.results
}

// prepare finds every event's step before the transaction, as Prepare does
// for one, with one query for the keys of all the Prepared routes' events.
// In ordered mode it stops at the first event whose Prepare failed and
// returns how many events it looked at (the others are not attempted).
func (b *batch) prepare(ctx context.Context) int {
	p := b.p
	seen, err := b.seenBefore(ctx)
	at := map[string]int{}
	for i, in := range b.ins {
		b.first[i] = -1
		if j, ok := at[in.DedupeKey]; ok {
			b.first[i] = j
			continue
		}
		at[in.DedupeKey] = i
		if route, ok := p.Routes[in.Type]; ok {
			b.steps[i] = Step{Apply: route}
			b.queued[i] = p.Pipelined[in.Type]
			b.results[i] = Result{Outcome: events.Processed}
			continue
		}
		prep, ok := p.Prepared[in.Type]
		switch {
		case !ok:
			b.results[i] = Result{Outcome: events.Ignored}
			continue
		case err != nil:
			b.results[i] = Result{Outcome: events.Failed, Err: err}
		case seen[in.DedupeKey]:
			b.results[i] = Result{Outcome: events.Duplicate}
			continue
		default:
			step, perr := prep(ctx, in)
			switch {
			case perr != nil && fault.Permanent(perr):
				b.results[i] = Result{Outcome: events.Rejected, Err: perr}
			case perr != nil:
				b.results[i] = Result{Outcome: events.Failed, Err: perr}
			case step.Apply == nil:
				b.results[i] = Result{Outcome: events.Ignored}
			default:
				b.steps[i] = step
				b.results[i] = Result{Outcome: events.Processed}
			}
		}
		if b.ordered && b.results[i].Outcome == events.Failed {
			for k := i + 1; k < len(b.ins); k++ {
				b.first[k] = -1
				b.results[k] = Result{Outcome: events.Failed, Err: ErrNotAttempted}
			}
			return i + 1
		}
	}
	return len(b.ins)
}

// seenBefore returns which keys of the Prepared routes' events were
// processed before, so that a redelivered event costs no remote read; the
// transaction's claim alone decides.
func (b *batch) seenBefore(ctx context.Context) (map[string]bool, error) {
	var keys []string
	for _, in := range b.ins {
		if _, ok := b.p.Prepared[in.Type]; ok {
			keys = append(keys, in.DedupeKey)
		}
	}
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := b.p.Pool.Query(ctx, `
		SELECT dedupe_key FROM matching_service.processed_events WHERE consumer = $1 AND dedupe_key = ANY($2)`,
		b.p.Consumer, keys)
	if err != nil {
		return nil, fmt.Errorf("inbox: look up %d events: %w", len(keys), store.Classify(ctx, err))
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("inbox: look up %d events: %w", len(keys), err)
		}
		seen[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox: look up %d events: %w", len(keys), store.Classify(ctx, err))
	}
	return seen, nil
}

// stopAtFirstFailure makes every event after the first Failed one (in
// ordered mode) Failed with ErrNotAttempted. applyAll already left them
// unapplied; repeats of keys applied before the failure are reset here too.
func (b *batch) stopAtFirstFailure() {
	for i, r := range b.results {
		if r.Outcome != events.Failed {
			continue
		}
		for k := i + 1; k < len(b.results); k++ {
			if b.results[k].Outcome != events.Failed || !errors.Is(b.results[k].Err, ErrNotAttempted) {
				b.results[k] = Result{Outcome: events.Failed, Err: ErrNotAttempted}
				b.ids[k], b.steps[k] = nil, Step{}
			}
		}
		return
	}
}

// publishAndAfter publishes the outbox rows of the events applied (one
// call, which the publisher sends in batches) and runs their steps' After,
// in order, each with its event as the cause, marked after the commit.
func (b *batch) publishAndAfter(ctx context.Context) {
	var ids []string
	for i, r := range b.results {
		if r.Outcome == events.Processed && b.first[i] < 0 {
			ids = append(ids, b.ids[i]...)
		}
	}
	if b.p.Publisher != nil && len(ids) > 0 {
		// An ordered consumer working off a backlog commits faster than
		// the sink may take the events; the publisher would leave what
		// overflows its queue to the relay. So it waits until the rows of
		// the batches before were tried (the publisher sends those while
		// this batch's transaction ran): publication keeps up, and the
		// consumer goes at the pace of the slower of the two.
		if f, ok := b.p.Publisher.(flusher); ok && b.ordered {
			_ = f.Flush(ctx) // on timeout the rows are the relay's, as for any failed publish
		}
		b.p.Publisher.Publish(ctx, ids)
	}
	for i, r := range b.results {
		if r.Outcome != events.Processed || b.first[i] >= 0 || b.steps[i].After == nil {
			continue
		}
		after := b.p.cause(b.ins[i])
		after.AfterCommit = true
		b.steps[i].After(store.WithCause(ctx, after))
	}
}
