// Package outbox is matching's transactional outbox: events are written in
// the transaction of the change that caused them, published after commit,
// and what could not be delivered then is published later by the relay, in
// creation order per partition key.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
)

// Add writes evs to the outbox inside tx and returns their row ids (the ids
// of the CloudEvents that will be published), in order. Nothing is published
// for a transaction that rolls back.
func Add(ctx context.Context, tx pgx.Tx, evs ...events.Outgoing) ([]string, error) {
	ids := make([]string, 0, len(evs))
	for _, ev := range evs {
		payload, err := json.Marshal(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("outbox: marshal %s: %w", ev.Type, err)
		}
		var id string
		err = tx.QueryRow(ctx,
			`INSERT INTO matching_service.outbox (event_type, partition_key, payload)
			 VALUES ($1, $2, $3) RETURNING id::text`,
			ev.Type, ev.Key, payload).Scan(&id)
		if err != nil {
			return nil, fmt.Errorf("outbox: insert %s: %w", ev.Type, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
