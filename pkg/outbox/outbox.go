// Package outbox is matching's transactional outbox: events are written in
// the transaction of the change that caused them, published after commit,
// and what could not be delivered then is published later by the relay, in
// creation order per partition key.
package outbox

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
)

// Add writes evs to the outbox inside tx and returns their row ids (the ids
// of the CloudEvents that will be published), in order.
func Add(ctx context.Context, tx pgx.Tx, evs ...events.Outgoing) ([]string, error) {
	panic("TODO")
}
