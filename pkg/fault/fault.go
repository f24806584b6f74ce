// Package fault holds the few kinds of error that decide how a failure is
// answered, and the one table that maps each kind to its answers: the HTTP
// status of a request (the anfrage API) and the status of a delivered event
// (what Knative, and the Kafka-direct consumer, act on: 4xx is poison and
// goes to the dead-letter sink, 5xx is retried). Wrap one of the kinds with
// context (fmt.Errorf("...: %w", err)); Status, EventStatus and Permanent
// read it back.
//
// Malformed and Invalid are both bad input that retrying cannot fix; they
// differ in how far the input was understood:
//
//	Malformed  cannot be read as given: not JSON, not a CloudEvent, no
//	           reference envelope                  → 400 for both
//	Invalid    read, but a field or a rule says no  → 400 for a request,
//	           422 for an event
//
// The API answers every rule it checks with 400, as the reference did, so
// its argument and rule errors are Invalid (a body that is not JSON may be
// either; it is 400 both ways). A consumed event answers 422 once its payload
// was read (product spec §4), and never 404 or 409 (Knative would retry
// those), so NotFound and Conflict are 422 for an event too.
//
// Failures that are nobody's input split three ways:
//
//	Unavailable  a neighbour or the database is down or busy: retrying
//	             later helps                         → 503 for both
//	Defect       the service itself fails the same way every time (an
//	             undefined column, a bug)             → 500 for a request,
//	             422 for an event, so that Knative dead-letters it instead
//	             of retrying it for ever
//	Transient    not classified (the zero kind)      → 500 for both; a
//	             Kafka-direct consumer retries it a bounded number of times
//
// pkg/store gives PostgreSQL's errors their kind by SQLSTATE (store.Classify).
package fault

import (
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Kind is the meaning of an error.
type Kind int

const (
	// Transient is the zero kind: anything not classified. It is retried,
	// but a Kafka-direct consumer gives up after a bounded number of
	// attempts (a deterministic failure must not block its partition).
	Transient Kind = iota
	// Malformed input cannot be read as given; retrying it can never
	// succeed.
	Malformed
	// Invalid input was read but breaks the contract (a missing or
	// mistyped field, a rule); retrying it can never succeed.
	Invalid
	// NotFound: the addressed entity does not exist.
	NotFound
	// Conflict: the entity is in a state that forbids the operation.
	Conflict
	// Unavailable: a neighbour service did not answer.
	Unavailable
	// TooLarge: the request body exceeds the limit.
	TooLarge
	// Unauthorized: a missing or wrong bearer token.
	Unauthorized
	// Defect: the service fails deterministically on this input for a
	// reason that is not the input's fault (an undefined table or column,
	// a constraint the code should have checked); retrying cannot help.
	Defect
	// MethodNotAllowed: the path exists, but not for this method.
	MethodNotAllowed
	// RequestTimeout: the request's body did not arrive in time; sending
	// it again may work.
	RequestTimeout
)

// answers is the one mapping from a kind to HTTP status: to a request and
// to a delivered event (see the package comment for why they differ).
var answers = [...]struct{ request, event int }{
	Transient:        {http.StatusInternalServerError, http.StatusInternalServerError},
	Malformed:        {http.StatusBadRequest, http.StatusBadRequest},
	Invalid:          {http.StatusBadRequest, http.StatusUnprocessableEntity},
	NotFound:         {http.StatusNotFound, http.StatusUnprocessableEntity},
	Conflict:         {http.StatusConflict, http.StatusUnprocessableEntity},
	Unavailable:      {http.StatusServiceUnavailable, http.StatusServiceUnavailable},
	TooLarge:         {http.StatusRequestEntityTooLarge, http.StatusRequestEntityTooLarge},
	Unauthorized:     {http.StatusUnauthorized, http.StatusUnprocessableEntity},
	Defect:           {http.StatusInternalServerError, http.StatusUnprocessableEntity},
	MethodNotAllowed: {http.StatusMethodNotAllowed, http.StatusMethodNotAllowed},
	RequestTimeout:   {http.StatusRequestTimeout, http.StatusRequestTimeout},
}

// names are the kinds as logs and dead letters spell them.
var names = [...]string{
	Transient:        "unclassified",
	Malformed:        "malformed",
	Invalid:          "invalid",
	NotFound:         "not_found",
	Conflict:         "conflict",
	Unavailable:      "unavailable",
	TooLarge:         "too_large",
	Unauthorized:     "unauthorized",
	Defect:           "defect",
	MethodNotAllowed: "method_not_allowed",
	RequestTimeout:   "request_timeout",
}

// String is the kind's name in logs: unclassified, malformed, invalid,
// not_found, conflict, unavailable, too_large, unauthorized, defect,
// method_not_allowed or request_timeout.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(names) {
		return names[Transient]
	}
	return names[k]
}

// Status is the HTTP status of a request that failed with an error of kind k.
func (k Kind) Status() int { return k.answer().request }

// EventStatus is the HTTP status of a delivered event that failed with an
// error of kind k.
func (k Kind) EventStatus() int { return k.answer().event }

func (k Kind) answer() struct{ request, event int } {
	if k < 0 || int(k) >= len(answers) {
		return answers[Transient]
	}
	return answers[k]
}

// Error is an error of a Kind with the message shown to the caller and,
// optionally, extra JSON keys of the reference's error bodies
// (for example "search_id" next to "Patient already has an active search").
type Error struct {
	Kind    Kind
	Message string
	Extra   map[string]any
	Err     error // the cause, if any; not shown to callers
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Malformedf returns a Malformed error with the formatted message.
func Malformedf(format string, args ...any) *Error { return newf(Malformed, format, args...) }

// Invalidf returns an Invalid error with the formatted message.
func Invalidf(format string, args ...any) *Error { return newf(Invalid, format, args...) }

// NotFoundf returns a NotFound error with the formatted message.
func NotFoundf(format string, args ...any) *Error { return newf(NotFound, format, args...) }

// Conflictf returns a Conflict error with the formatted message.
func Conflictf(format string, args ...any) *Error { return newf(Conflict, format, args...) }

// Unavailablef returns an Unavailable error with the formatted message.
func Unavailablef(format string, args ...any) *Error { return newf(Unavailable, format, args...) }

// TooLargef returns a TooLarge error with the formatted message.
func TooLargef(format string, args ...any) *Error { return newf(TooLarge, format, args...) }

// ReadingBody is the error of a request body that could not be read: 413
// beyond the limit (a *http.MaxBytesError), 408 when the server's read
// deadline passed (the client announced a body and did not send it), else
// a Malformed error with msg.
func ReadingBody(err error, limit string, msg string) *Error {
	var tooLarge *http.MaxBytesError
	var netErr net.Error
	switch {
	case errors.As(err, &tooLarge):
		return newf(TooLarge, "Request body too large (limit %s)", limit).Wrap(err)
	case errors.As(err, &netErr) && netErr.Timeout():
		return newf(RequestTimeout, "Request body not received in time").Wrap(err)
	}
	return newf(Malformed, "%s", msg).Wrap(err)
}

// With returns a copy of e with the extra key set.
func (e *Error) With(key string, value any) *Error {
	c := *e
	c.Extra = make(map[string]any, len(e.Extra)+1)
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	c.Extra[key] = value
	return &c
}

// Wrap returns a copy of e with cause as its wrapped error.
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Err = cause
	return &c
}

// As returns the *Error in err's chain, or nil.
func As(err error) *Error {
	var fe *Error
	if errors.As(err, &fe) {
		return fe
	}
	return nil
}

// KindOf returns the kind of err; nil and unclassified errors are Transient.
func KindOf(err error) Kind {
	if fe := As(err); fe != nil {
		return fe.Kind
	}
	return Transient
}

// Permanent reports whether retrying err can never help: its event status
// is a 4xx. Event handlers send such events to the dead-letter sink instead
// of retrying them.
func Permanent(err error) bool {
	return err != nil && KindOf(err).EventStatus() < http.StatusInternalServerError
}

// Status is the HTTP status answering a request that failed with err
// (200 for nil).
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return KindOf(err).Status()
}

// EventStatus is the HTTP status answering a delivered event whose handling
// failed with err (200 for nil): a 4xx sends the event to the dead-letter
// sink, a 5xx has it delivered again.
func EventStatus(err error) int {
	if err == nil {
		return http.StatusOK
	}
	return KindOf(err).EventStatus()
}
