package runtime

import (
	"context"
	"net/http"
	"strings"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
)

// Handler processes one consumed CloudEvent. *inbox.Processor implements it.
// It returns the decoded event (as far as decoding got, for logs), the
// outcome, and for events.Rejected and events.Failed the error. Handle must
// return only after the event's effects are committed (or known not to be).
type Handler interface {
	Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	return f(ctx, e)
}

// status maps a handler's result to the HTTP status Knative acts on (product
// §4): 2xx acknowledges; 400 and 422 are poison and go to the dead-letter
// sink without retry; 5xx is retried. A permanent problem never becomes 404
// or 409, which Knative would retry.
func status(in events.Inbound, outcome events.Outcome, err error) int {
	switch outcome {
	case events.Processed, events.Duplicate, events.Ignored:
		return http.StatusOK
	case events.Rejected:
		// Decoding sets the payload only once the body was understood: a
		// rejection before that is an unparseable event (400), after it a
		// missing or mistyped field (422).
		if len(in.Payload) == 0 {
			return http.StatusBadRequest
		}
		return http.StatusUnprocessableEntity
	}
	if fault.KindOf(err) == fault.Unavailable {
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// reason is the one-line text of a failure shown to the caller.
func reason(err error) string {
	if err == nil {
		return ""
	}
	if fe := fault.As(err); fe != nil && fe.Kind != fault.Transient {
		return oneLine(fe.Message)
	}
	return oneLine(err.Error())
}

func oneLine(s string) string {
	const max = 300
	b := []byte(strings.TrimSpace(s))
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	if len(b) > max {
		return strings.ToValidUTF8(string(b[:max]), "") + "…"
	}
	return string(b)
}
