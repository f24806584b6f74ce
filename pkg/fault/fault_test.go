package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/curavani/matching/pkg/fault"
)

// Each kind answers a request as the reference did and a delivered event as
// Knative needs it: poison is 4xx (never 404 or 409, which Knative
// retries), anything worth retrying 5xx.
func TestKinds_answerRequestsAndEventsFromOneTable(t *testing.T) {
	tests := map[string]struct {
		err            error
		request, event int
		permanent      bool
	}{
		"nil":          {nil, 200, 200, false},
		"unclassified": {errors.New("connection refused"), 500, 500, false},
		"malformed":    {fault.Malformedf("event data is not a JSON object"), 400, 400, true},
		"invalid":      {fault.Invalidf("field patient_id: required"), 400, 422, true},
		"not found":    {fault.NotFoundf("Therapist 7 not found"), 404, 422, true},
		"conflict":     {fault.Conflictf("Anfrage already sent"), 409, 422, true},
		"unavailable":  {fault.Unavailablef("therapist service unavailable"), 503, 503, false},
		"too large":    {fault.TooLargef("request body exceeds 1 MiB"), 413, 413, true},
		"unauthorized": {&fault.Error{Kind: fault.Unauthorized, Message: "Unauthorized"}, 401, 422, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			errs := []error{tc.err}
			if tc.err != nil {
				errs = append(errs, fmt.Errorf("context: %w", tc.err))
			}
			for _, err := range errs {
				if got := fault.Status(err); got != tc.request {
					t.Errorf("Status(%v) = %d, want %d", err, got, tc.request)
				}
				if got := fault.EventStatus(err); got != tc.event {
					t.Errorf("EventStatus(%v) = %d, want %d", err, got, tc.event)
				}
				if got := fault.Permanent(err); got != tc.permanent {
					t.Errorf("Permanent(%v) = %v, want %v", err, got, tc.permanent)
				}
			}
		})
	}
}
