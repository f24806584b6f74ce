package fault_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/curavani/matching/pkg/fault"
)

// answer is how an error is answered: the status of a request, the status
// of a delivered event, and whether retrying can never help.
type answer struct {
	request, event int
	permanent      bool
}

// Each kind answers a request as the reference did and a delivered event as
// Knative needs it: poison is 4xx (never 404 or 409, which Knative
// retries), anything worth retrying 5xx. Wrapping keeps the answer.
func TestKinds_answerRequestsAndEventsFromOneTable(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want answer
	}{
		"unclassified": {errors.New("connection refused"), answer{500, 500, false}},
		"malformed":    {fault.Malformedf("event data is not a JSON object"), answer{400, 400, true}},
		"invalid":      {fault.Invalidf("field patient_id: required"), answer{400, 422, true}},
		"not found":    {fault.NotFoundf("Therapist 7 not found"), answer{404, 422, true}},
		"conflict":     {fault.Conflictf("Anfrage already sent"), answer{409, 422, true}},
		"unavailable":  {fault.Unavailablef("therapist service unavailable"), answer{503, 503, false}},
		"too large":    {fault.TooLargef("request body exceeds 1 MiB"), answer{413, 413, true}},
		"unauthorized": {&fault.Error{Kind: fault.Unauthorized, Message: "Unauthorized"}, answer{401, 422, true}},
		"defect":       {&fault.Error{Kind: fault.Defect, Message: "Internal server error"}, answer{500, 422, true}},
	} {
		t.Run(name, func(t *testing.T) {
			for _, err := range []error{tc.err, fmt.Errorf("context: %w", tc.err)} {
				got := answer{fault.Status(err), fault.EventStatus(err), fault.Permanent(err)}
				if got != tc.want {
					t.Errorf("%v is answered %+v, want %+v", err, got, tc.want)
				}
			}
		})
	}
	if got := (answer{fault.Status(nil), fault.EventStatus(nil), fault.Permanent(nil)}); got != (answer{200, 200, false}) {
		t.Errorf("no error is answered %+v, want 200, 200, not permanent", got)
	}
}
