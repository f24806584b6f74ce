package outbox

import (
	"context"
	"fmt"
	"time"
)

// Relay publishes every publishable row, oldest first, until none is left,
// and returns how many it published. An ordering key (entity and id) whose
// oldest row fails is given up on for this run — its later rows wait —
// while the other keys proceed, those with the same partition key included.
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
			giveUp(f.row.order)
			failures++
			if firstErr == nil {
				firstErr = f.err
			}
		}
		for _, r := range out.waiting {
			cursor = max(cursor, r.seq)
			giveUp(r.order)
		}
	}
	if failures > 0 {
		return published, fmt.Errorf("outbox relay: %d events not delivered, %d keys waiting: %w", failures, len(skipKeys), firstErr)
	}
	return published, nil
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
