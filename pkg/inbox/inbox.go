// Package inbox processes consumed events exactly once in effect: it records
// each event's deduplication key in processed_events in the same transaction
// as the event's effects and its outbox rows, and publishes those rows after
// commit. A route that must read another service first is split in two
// (Prepare, then Step.Apply), so that no transaction spans a remote call.
package inbox

import (
	"context"
	"fmt"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// Func applies one event type inside tx and returns the events to emit. A
// fault.Invalid error rejects the event (nothing is committed); any other
// error is transient.
type Func func(ctx context.Context, tx pgx.Tx, ev events.Inbound) ([]events.Outgoing, error)

// Prepare is the first half of a route that must read another service
// (no transaction may span a remote call): it runs before the event's
// transaction, does the remote reads and returns the Step that applies the
// event with what it read. An error is treated as a route's error (a
// fault.Invalid rejects the event, anything else is transient).
type Prepare func(ctx context.Context, in events.Inbound) (Step, error)

// Step is a prepared event: Apply runs inside the transaction, after the
// dedupe check, exactly as a Func; After, if set, runs once that
// transaction committed (for work the transaction queued, such as the
// re-checks a changed copy asks for). After cannot fail the event: its
// effects are committed.
type Step struct {
	Apply Func
	After func(ctx context.Context)
}

// Publisher publishes committed outbox rows; *outbox.Publisher implements it.
type Publisher interface {
	Publish(ctx context.Context, ids []string)
}

// Processor is the CloudEvents handler of one consumer (one function).
type Processor struct {
	// Consumer names this consumer in processed_events; keep it stable.
	Consumer string
	Pool     *pgxpool.Pool
	// Publisher, if set, publishes the outbox rows right after commit.
	Publisher Publisher
	// Routes maps canonical event types to their effect. Every other type is
	// acknowledged and reported as events.Ignored.
	Routes map[string]Func
	// Prepared maps canonical event types whose effect needs a remote read
	// first to their Prepare. A type is in Routes or in Prepared. A
	// redelivered event is recognised before Prepare runs, so it costs no
	// remote call; the dedupe key is still claimed in the transaction,
	// which alone decides.
	Prepared map[string]Prepare
}

// Handle decodes e, and unless its dedupe key was processed before, applies
// its route in one transaction together with the processed_events row and the
// outbox rows; a Prepared route does its remote reads before that
// transaction, and its After runs once it committed. It returns the outcome
// and, for Rejected and Failed, the error.
func (p *Processor) Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	step, outcome, err := p.prepare(ctx, in)
	if step.Apply == nil {
		return in, outcome, err
	}
	route := step.Apply
	var ids []string
	err = store.WithTx(ctx, p.Pool, func(tx pgx.Tx) error {
		// The insert both claims the key and, under concurrent delivery of
		// the same event, makes the second transaction wait for the first
		// and then see the conflict: exactly one applies the effects.
		tag, err := tx.Exec(ctx,
			`INSERT INTO matching_service.processed_events (consumer, dedupe_key, event_type)
			 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
			p.Consumer, in.DedupeKey, in.Type)
		if err != nil {
			return fmt.Errorf("inbox: record %s: %w", in.DedupeKey, err)
		}
		if tag.RowsAffected() == 0 {
			outcome = events.Duplicate
			return nil
		}
		out, err := route(ctx, tx, in)
		if err != nil {
			return err
		}
		ids, err = outbox.Add(ctx, tx, out...)
		return err
	})
	if err != nil {
		if fault.Permanent(err) {
			return in, events.Rejected, err
		}
		return in, events.Failed, err
	}
	if p.Publisher != nil && len(ids) > 0 {
		p.Publisher.Publish(ctx, ids)
	}
	if outcome == events.Processed && step.After != nil {
		step.After(ctx)
	}
	return in, outcome, nil
}

// prepare finds the route of in: a Func of Routes as it is, or the Step a
// Prepared route returns after its remote reads. Without a route the
// outcome is Ignored; an event processed before is a Duplicate found
// without calling Prepare; a failing Prepare is Rejected or Failed.
// Otherwise the outcome is Processed, with step.Apply set.
func (p *Processor) prepare(ctx context.Context, in events.Inbound) (Step, events.Outcome, error) {
	if route, ok := p.Routes[in.Type]; ok {
		return Step{Apply: route}, events.Processed, nil
	}
	prep, ok := p.Prepared[in.Type]
	if !ok {
		return Step{}, events.Ignored, nil
	}
	var seen bool
	if err := p.Pool.QueryRow(ctx, `
		SELECT EXISTS (SELECT 1 FROM matching_service.processed_events WHERE consumer = $1 AND dedupe_key = $2)`,
		p.Consumer, in.DedupeKey).Scan(&seen); err != nil {
		return Step{}, events.Failed, fmt.Errorf("inbox: look up %s: %w", in.DedupeKey, err)
	}
	if seen {
		return Step{}, events.Duplicate, nil
	}
	step, err := prep(ctx, in)
	switch {
	case err != nil && fault.Permanent(err):
		return Step{}, events.Rejected, err
	case err != nil:
		return Step{}, events.Failed, err
	case step.Apply == nil:
		// Prepare found nothing to do (the event is about someone matching
		// keeps no record of).
		return Step{}, events.Ignored, nil
	}
	return step, events.Processed, nil
}
