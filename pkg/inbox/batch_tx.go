package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// eventError is the failure of one event's effect inside a batch's
// transaction: at is its position among the events the transaction
// applied. Any other failure of the transaction (its begin, the claim, the
// outbox insert, the commit) cannot be pinned on one event.
type eventError struct {
	at  int
	err error
}

func (e *eventError) Error() string { return e.err.Error() }
func (e *eventError) Unwrap() error { return e.err }

// applyAll applies the events todo (indices into the batch, in order) in
// one transaction and records each one's Result and outbox ids. When an
// event's effect fails, the transaction rolls back and the events are
// applied again without it in a new one: a rejected (poison) event is left
// out alone; after a transient failure, in ordered mode, the events after
// it are not attempted (the caller retries from it), otherwise they are
// applied too, as one at a time would. A failure that cannot be pinned on
// one event fails every event when it is transient, and is narrowed down
// by halving the batch when it is not, so that only the event that causes
// it is rejected. Each failure costs one more transaction, so a batch with
// p poison events takes p+1.
func (b *batch) applyAll(ctx context.Context, todo []int) {
	for len(todo) > 0 {
		err := b.applyOnce(ctx, todo)
		if err == nil {
			return
		}
		var ee *eventError
		if !errors.As(err, &ee) {
			if !fault.Permanent(err) || len(todo) == 1 {
				b.fail(todo, err)
				return
			}
			half := len(todo) / 2
			b.applyAll(ctx, todo[:half])
			if b.ordered && b.anyFailed(todo[:half]) {
				b.fail(todo[half:], ErrNotAttempted)
				return
			}
			b.applyAll(ctx, todo[half:])
			return
		}
		i := todo[ee.at]
		if fault.Permanent(ee.err) {
			b.results[i] = Result{Outcome: events.Rejected, Err: ee.err}
			todo = append(todo[:ee.at:ee.at], todo[ee.at+1:]...)
			continue
		}
		b.results[i] = Result{Outcome: events.Failed, Err: ee.err}
		if b.ordered {
			b.fail(todo[ee.at+1:], ErrNotAttempted)
			todo = todo[:ee.at]
		} else {
			todo = append(todo[:ee.at:ee.at], todo[ee.at+1:]...)
		}
	}
}

// fail records err as the result of the events todo: Rejected when it is
// permanent, else Failed.
func (b *batch) fail(todo []int, err error) {
	outcome := events.Failed
	if fault.Permanent(err) {
		outcome = events.Rejected
	}
	for _, i := range todo {
		b.results[i] = Result{Outcome: outcome, Err: err}
		b.ids[i] = nil
	}
}

func (b *batch) anyFailed(todo []int) bool {
	for _, i := range todo {
		if b.results[i].Outcome == events.Failed {
			return true
		}
	}
	return false
}

// applyOnce is one transaction over the events todo: one statement claims
// all their keys, then each claimed event's effect runs with the event as
// the cause of its changes, then one statement writes every emitted event
// to the outbox, in the order of the events. Consecutive events with a
// pipelined route (Processor.Pipelined) go to the server together: for
// each, a statement setting its cause and its route's statements, one
// round trip for all. On success it records the results and outbox ids.
func (b *batch) applyOnce(ctx context.Context, todo []int) error {
	outcomes := make([]events.Outcome, len(todo))
	counts := make([]int, len(todo))
	var ids []string
	err := store.WithTx(ctx, b.p.Pool, func(tx pgx.Tx) error {
		claimed, err := b.claim(ctx, tx, todo)
		if err != nil {
			return err
		}
		var out []events.Outgoing
		applied := func(k int, evs []events.Outgoing) {
			outcomes[k], counts[k] = events.Processed, len(evs)
			out = append(out, evs...)
		}
		current, hasCurrent := store.CauseFrom(ctx)
		pipe := pipeline{tx: tx}
		for k, i := range todo {
			if !claimed[b.ins[i].DedupeKey] {
				outcomes[k] = events.Duplicate
				continue
			}
			c := b.p.cause(b.ins[i])
			if q := b.queued[i]; q != nil {
				if err := pipe.add(k, c, q, b.ins[i]); err != nil {
					return err
				}
				current, hasCurrent = c, true
				continue
			}
			if err := pipe.flush(ctx, applied); err != nil {
				return err
			}
			if !hasCurrent || c != current {
				if err := store.SetCause(ctx, tx, c); err != nil {
					return err
				}
				current, hasCurrent = c, true
			}
			evs, err := b.steps[i].Apply(ctx, tx, b.ins[i])
			if err != nil {
				return &eventError{at: k, err: store.Classify(ctx, err)}
			}
			applied(k, evs)
		}
		if err := pipe.flush(ctx, applied); err != nil {
			return err
		}
		ids, err = outbox.Add(ctx, tx, out...)
		return err
	})
	if err != nil {
		return err
	}
	for k, i := range todo {
		b.results[i] = Result{Outcome: outcomes[k]}
		b.ids[i], ids = ids[:counts[k]:counts[k]], ids[counts[k]:]
	}
	return nil
}

// pipeline gathers the statements of consecutive events with a pipelined
// route until flush sends them in one round trip.
type pipeline struct {
	tx    pgx.Tx
	batch *pgx.Batch
	reads []queuedRead
}

type queuedRead struct {
	at   int
	read func(pgx.BatchResults) ([]events.Outgoing, error)
}

// add queues the statement that makes c the cause of what follows
// (set_config with is_local, as SET LOCAL, but one prepared statement for
// every cause) and the event's route's statements.
func (p *pipeline) add(at int, c store.Cause, q Queued, in events.Inbound) error {
	if p.batch == nil {
		p.batch = &pgx.Batch{}
	}
	p.batch.Queue(`SELECT set_config('matching.cause', $1, true)`, c.JSON())
	read, err := q(p.batch, in)
	if err != nil {
		return &eventError{at: at, err: err}
	}
	p.reads = append(p.reads, queuedRead{at: at, read: read})
	return nil
}

// flush sends the queued statements and reads each event's results in
// order, handing its emitted events to applied; the first failing event's
// error is an eventError.
func (p *pipeline) flush(ctx context.Context, applied func(at int, evs []events.Outgoing)) error {
	if p.batch == nil {
		return nil
	}
	br := p.tx.SendBatch(ctx, p.batch)
	reads := p.reads
	p.batch, p.reads = nil, nil
	for _, r := range reads {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return &eventError{at: r.at, err: store.Classify(ctx, err)}
		}
		evs, err := r.read(br)
		if err != nil {
			_ = br.Close()
			return &eventError{at: r.at, err: store.Classify(ctx, err)}
		}
		applied(r.at, evs)
	}
	return br.Close()
}

// claim inserts the processed_events rows of the events todo (keys are
// unique among them: repeats were set aside) in one statement and returns
// the keys it inserted: the others were processed before. As for one
// event, the insert also makes a concurrent transaction holding one of the
// keys wait and then see the conflict, and the row is the event's entry in
// the event log.
func (b *batch) claim(ctx context.Context, tx pgx.Tx, todo []int) (map[string]bool, error) {
	n := len(todo)
	keys, types, ids, sources, partKeys, payloads := make([]string, n), make([]string, n), make([]string, n),
		make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	var search, anfrage, patient, therapist = make([]*int32, n), make([]*int32, n), make([]*int32, n), make([]*int32, n)
	for k, i := range todo {
		in := b.ins[i]
		keys[k], types[k], ids[k], sources[k], partKeys[k], payloads[k] = in.DedupeKey, in.Type, text(in.ID),
			text(in.Source), text(in.Key), text(string(in.Payload))
		at[k] = in.At
		e := payloadIDs(in.Payload)
		search[k], anfrage[k], patient[k], therapist[k] = e[0], e[1], e[2], e[3]
	}
	rows, err := tx.Query(ctx, `
		INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type, event_id, source,
			partition_key, handled_at, payload, platzsuche_id, anfrage_id, patient_id, therapist_id)
		SELECT $1, e.* FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
			$8::text[], $9::int[], $10::int[], $11::int[], $12::int[]) AS e
		ON CONFLICT DO NOTHING
		RETURNING dedupe_key`,
		b.p.Consumer, keys, types, ids, sources, partKeys, at, payloads, search, anfrage, patient, therapist)
	if err != nil {
		return nil, fmt.Errorf("inbox: record %d events: %w", n, err)
	}
	defer rows.Close()
	claimed := make(map[string]bool, n)
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, fmt.Errorf("inbox: record %d events: %w", n, err)
		}
		claimed[k] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("inbox: record %d events: %w", n, err)
	}
	return claimed, nil
}
