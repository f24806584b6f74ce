package runtime

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
)

// groupCommit applies the events of concurrent requests together: a request
// that arrives while every lane is applying a batch waits in a queue, and
// the next batch takes the whole queue (at most max events) into one
// ProcessBatch call, one transaction. There is no timer: a request that
// finds a lane free is applied at once, alone, in its own goroutine, so at
// low load nothing waits for company; batches form only from requests that
// would otherwise wait for a connection and a commit of their own.
//
// Leadership passes from request to request (no goroutine of its own, so
// nothing to start or stop): the request that gets a free lane leads a
// batch of itself; when its batch has committed, it hands the lane with the
// next batch, taken from the queue, to that batch's first request, answers
// the other requests of its batch with their own results and returns its
// own. Every request is thus an in-flight HTTP request until its effects
// have committed, which is what lets the server's shutdown drain the queue.
type groupCommit struct {
	// apply applies a batch and returns one result per event, in order
	// (inbox.Processor.ProcessBatch).
	apply func(ctx context.Context, ins []events.Inbound) []inbox.Result
	// max bounds the events of one batch, lanes the batches applied at
	// once.
	max, lanes int
	// observe, if set, is told the size of every batch applied.
	observe func(size int)

	mu      sync.Mutex
	running int     // lanes in use
	queue   []*call // waiting requests, oldest first; empty while a lane is free
}

// call is one request's event on its way through a batch.
type call struct {
	in events.Inbound
	// done is closed once res is set, or once batch is: the call then
	// leads that batch.
	done  chan struct{}
	res   inbox.Result
	batch []*call // the calls this one applies when it leads, itself first
}

// errBatchPanicked is the result of the events of a batch whose processing
// panicked: they are answered as failed (and delivered again) instead of
// waiting for ever.
var errBatchPanicked = errors.New("group commit: the batch gave no result for this event (its processing panicked)")

// do applies in, alone or with the events of other requests, and returns
// its own result once its effects are committed. ctx's cancellation is not
// passed on: a batch holds other requests' events, and one client going
// away must not abort them (an event that commits anyway is a duplicate
// when redelivered). Its values are.
func (g *groupCommit) do(ctx context.Context, in events.Inbound) inbox.Result {
	c := &call{in: in, done: make(chan struct{})}
	g.mu.Lock()
	if g.running < g.lanes {
		g.running++
		c.batch = []*call{c}
		g.mu.Unlock()
	} else {
		g.queue = append(g.queue, c)
		g.mu.Unlock()
		<-c.done
		if c.batch == nil {
			return c.res
		}
	}
	return g.lead(context.WithoutCancel(ctx), c.batch)
}

// lead applies batch (whose first call is the caller's), hands the lane on
// and answers the batch's other calls, also when apply panics.
func (g *groupCommit) lead(ctx context.Context, batch []*call) inbox.Result {
	var results []inbox.Result
	defer func() {
		g.handOff()
		for i, c := range batch[1:] {
			c.res = resultAt(results, i+1)
			close(c.done)
		}
	}()
	ins := make([]events.Inbound, len(batch))
	for i, c := range batch {
		ins[i] = c.in
	}
	results = g.apply(ctx, ins)
	if g.observe != nil {
		g.observe(len(batch))
	}
	return resultAt(results, 0)
}

// handOff gives the lane just used to the next batch: the oldest waiting
// calls, at most max, led by the first of them; with no call waiting the
// lane is free.
func (g *groupCommit) handOff() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) == 0 {
		g.running--
		return
	}
	n := min(len(g.queue), g.max)
	next := slices.Clone(g.queue[:n])
	g.queue = slices.Delete(g.queue, 0, n)
	next[0].batch = next
	close(next[0].done)
}

// processBatch is how a group commit applies a batch with p: a batch of one
// (a request that found a lane free: every request at low load) as Process
// applies a lone event, the path every request took before group commit
// (measured: the batched transaction of one event took one round trip and
// about 10% more CPU); a larger one with ProcessBatch, whose result is
// that of Process one at a time.
func processBatch(p *inbox.Processor) func(ctx context.Context, ins []events.Inbound) []inbox.Result {
	return func(ctx context.Context, ins []events.Inbound) []inbox.Result {
		if len(ins) == 1 {
			outcome, err := p.Process(ctx, ins[0])
			return []inbox.Result{{Outcome: outcome, Err: err}}
		}
		return p.ProcessBatch(ctx, ins)
	}
}

// resultAt is results[i], or a failure when apply did not return it (it
// panicked, or broke its contract of one result per event).
func resultAt(results []inbox.Result, i int) inbox.Result {
	if i < len(results) {
		return results[i]
	}
	return inbox.Result{Outcome: events.Failed, Err: errBatchPanicked}
}
