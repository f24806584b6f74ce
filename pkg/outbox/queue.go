package outbox

import (
	"context"
	"time"
)

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
