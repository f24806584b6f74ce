package inbox

import (
	"context"

	"github.com/curavani/matching/pkg/events"
)

// Result is what became of one event of a batch: its outcome and, for
// events.Rejected and events.Failed, the error (as Process returns them).
type Result struct {
	Outcome events.Outcome
	Err     error
}

// ProcessBatch processes decoded events (each with its At set) with exactly
// the result of processing them one at a time, in order, and returns one
// Result per event, in the same order. A Rejected event changes nothing and
// does not keep the others from applying; a Failed one is to be retried.
//
// This is the one-at-a-time form (one transaction per event), the baseline
// the batched form is measured and property-tested against.
func (p *Processor) ProcessBatch(ctx context.Context, ins []events.Inbound) []Result {
	results := make([]Result, len(ins))
	for i, in := range ins {
		outcome, err := p.Process(ctx, in)
		results[i] = Result{Outcome: outcome, Err: err}
	}
	return results
}
