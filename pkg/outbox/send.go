package outbox

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/curavani/matching/pkg/events"
)

// send delivers rows (in seq order): the rows of one ordering key
// sequentially, up to keysInParallel ordering keys at a time.
func (p *Publisher) send(ctx context.Context, rows []row) outcome {
	var keys []string
	byKey := map[string][]row{}
	var out outcome
	for _, r := range rows {
		// The claim marks a row out of order together with every later
		// row of its ordering key.
		if !r.inOrder {
			out.waiting = append(out.waiting, r)
			continue
		}
		if _, ok := byKey[r.order]; !ok {
			keys = append(keys, r.order)
		}
		byKey[r.order] = append(byKey[r.order], r)
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
