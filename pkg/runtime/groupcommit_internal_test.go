package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/inbox"
)

// fakeBatches applies batches by recording their events; the first waits
// until hold is closed, and one holding the event "boom" panics.
type fakeBatches struct {
	mu      sync.Mutex
	batches [][]string
	hold    chan struct{}
}

func (f *fakeBatches) apply(_ context.Context, ins []events.Inbound) []inbox.Result {
	f.mu.Lock()
	first := len(f.batches) == 0
	ids := make([]string, len(ins))
	for i, in := range ins {
		ids[i] = in.ID
	}
	f.batches = append(f.batches, ids)
	f.mu.Unlock()
	if first {
		<-f.hold
	}
	out := make([]inbox.Result, len(ins))
	for i, in := range ins {
		if in.ID == "boom" {
			panic("boom")
		}
		out[i] = inbox.Result{Outcome: events.Processed}
	}
	return out
}

// started spins until the first batch is being applied.
func (f *fakeBatches) started() {
	for {
		f.mu.Lock()
		n := len(f.batches)
		f.mu.Unlock()
		if n > 0 {
			return
		}
		goruntime.Gosched()
	}
}

func (g *groupCommit) waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// waitFor spins until g has n calls waiting (the calls are goroutines
// started just before).
func waitFor(g *groupCommit, n int) {
	for g.waiting() != n {
		goruntime.Gosched()
	}
}

// Requests that wait are taken max at a time, oldest first, one batch per
// lane.
func TestGroupCommit_takesAtMostMaxOfTheWaitingOldestFirst(t *testing.T) {
	f := &fakeBatches{hold: make(chan struct{})}
	g := &groupCommit{apply: f.apply, max: 2, lanes: 1}
	var wg sync.WaitGroup
	do := func(id string) {
		wg.Go(func() {
			if r := g.do(context.Background(), events.Inbound{ID: id}); r.Outcome != events.Processed {
				t.Errorf("%s: %v", id, r)
			}
		})
	}
	do("a")
	f.started()
	for i, id := range []string{"b", "c", "d", "e", "f"} {
		do(id)
		waitFor(g, i+1)
	}
	close(f.hold)
	wg.Wait()
	if d := cmp.Diff([][]string{{"a"}, {"b", "c"}, {"d", "e"}, {"f"}}, f.batches); d != "" {
		t.Errorf("batches (-want +got):\n%s", d)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running != 0 || len(g.queue) != 0 {
		t.Errorf("%d lanes in use and %d waiting after the last batch", g.running, len(g.queue))
	}
}

// A batch whose processing panics answers its waiting requests as failed
// (they are delivered again) and frees its lane for the next request.
func TestGroupCommit_aPanickingBatchFailsItsRequestsAndFreesTheLane(t *testing.T) {
	f := &fakeBatches{hold: make(chan struct{})}
	g := &groupCommit{apply: f.apply, max: 8, lanes: 1}
	results := make(chan string, 3)
	var wg sync.WaitGroup
	do := func(id string) {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					results <- fmt.Sprintf("%s: panic %v", id, p)
				}
			}()
			r := g.do(context.Background(), events.Inbound{ID: id})
			results <- fmt.Sprintf("%s: %s %v", id, r.Outcome, errors.Is(r.Err, errBatchPanicked))
		})
	}
	do("a")
	f.started()
	do("boom")
	waitFor(g, 1)
	do("c")
	waitFor(g, 2)
	close(f.hold)
	wg.Wait()
	close(results)
	got := map[string]bool{}
	for r := range results {
		got[r] = true
	}
	want := map[string]bool{"a: processed false": true, "boom: panic boom": true, "c: failed true": true}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("results (-want +got):\n%s", d)
	}
	if r := g.do(context.Background(), events.Inbound{ID: "later"}); r.Outcome != events.Processed {
		t.Errorf("a request after the panic: %v", r)
	}
}

// BenchmarkGroupCommit_lone is what group commit adds to a request that
// finds a lane free (every request at low load), with an apply that
// returns at once: ns/op is the added latency (the 1-sender p99 of
// make bench-http may grow by at most 2 ms).
func BenchmarkGroupCommit_lone(b *testing.B) {
	g := &groupCommit{max: 64, lanes: 4, observe: func(int) {},
		apply: func(_ context.Context, ins []events.Inbound) []inbox.Result {
			return []inbox.Result{{Outcome: events.Processed}}
		}}
	in := events.Inbound{ID: "x"}
	ctx := context.Background()
	for range b.N {
		if r := g.do(ctx, in); r.Outcome != events.Processed {
			b.Fatal(r)
		}
	}
}
