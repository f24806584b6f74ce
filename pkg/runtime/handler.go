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

// status is the HTTP status Knative acts on for a handler's result
// (product §4): 200 acknowledges the event; otherwise the error's kind
// decides, through fault.EventStatus: 4xx is poison and goes to the
// dead-letter sink without retry, 5xx is retried. A handler that failed
// without an error is retried.
func status(outcome events.Outcome, err error) int {
	switch outcome {
	case events.Processed, events.Duplicate, events.Ignored:
		return http.StatusOK
	}
	if err == nil {
		return http.StatusInternalServerError
	}
	return fault.EventStatus(err)
}

// internalReason stands in for the text of an error that has no message
// meant for callers.
const internalReason = "internal error; the function's log has the details"

// reason is the one-line text of a failure shown to the caller: the message
// of a *fault.Error, never an unclassified error's own text, which may be a
// database's message with SQL, SQLSTATEs or names (the log line carries
// the whole error).
func reason(err error) string {
	if err == nil {
		return ""
	}
	if fe := fault.As(err); fe != nil && fe.Message != "" {
		return oneLine(fe.Message)
	}
	return internalReason
}

// oneLine makes s fit one line of an answer, a header or a log: control
// characters (line breaks, NUL) become spaces, bytes that are not UTF-8 go,
// and it is cut to 300 bytes.
func oneLine(s string) string {
	const max = 300
	b := []byte(strings.TrimSpace(s))
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	if len(b) > max {
		return strings.ToValidUTF8(string(b[:max]), "") + "…"
	}
	return strings.ToValidUTF8(string(b), "")
}
