// Package inbox processes consumed events exactly once in effect: it records
// each event's deduplication key in processed_events in the same transaction
// as the event's effects and its outbox rows, and publishes those rows after
// commit.
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
}

// Handle decodes e, and unless its dedupe key was processed before, applies
// its route in one transaction together with the processed_events row and the
// outbox rows. It returns the outcome and, for Rejected and Failed, the error.
func (p *Processor) Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	route, ok := p.Routes[in.Type]
	if !ok {
		return in, events.Ignored, nil
	}
	var ids []string
	outcome := events.Processed
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
	return in, outcome, nil
}
