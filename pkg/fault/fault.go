// Package fault holds the few kinds of error that decide how a failure is
// answered: the HTTP status of the anfrage API, the status a CloudEvents
// handler returns to Knative, and whether the Kafka-direct consumer retries a
// record or sends it to the dead-letter topic. Wrap one of the kinds with
// context (fmt.Errorf("...: %w", err)); Status and Permanent read it back.
package fault

import (
	"errors"
	"fmt"
	"net/http"
)

// Kind is the meaning of an error.
type Kind int

const (
	// Transient is the zero kind: anything not classified is assumed to be
	// worth retrying (database down, timeout).
	Transient Kind = iota
	// Invalid input: retrying the same input can never succeed.
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
)

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

// Invalidf returns an Invalid error with the formatted message.
func Invalidf(format string, args ...any) *Error { return newf(Invalid, format, args...) }

// NotFoundf returns a NotFound error with the formatted message.
func NotFoundf(format string, args ...any) *Error { return newf(NotFound, format, args...) }

// Conflictf returns a Conflict error with the formatted message.
func Conflictf(format string, args ...any) *Error { return newf(Conflict, format, args...) }

// Unavailablef returns an Unavailable error with the formatted message.
func Unavailablef(format string, args ...any) *Error { return newf(Unavailable, format, args...) }

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

// Permanent reports whether retrying err can never help. Event handlers send
// such events to the dead-letter sink instead of retrying them.
func Permanent(err error) bool {
	switch KindOf(err) {
	case Invalid, NotFound, Conflict, TooLarge, Unauthorized:
		return err != nil
	}
	return false
}

// Status is the single mapping from an error to an HTTP status code.
func Status(err error) int {
	if err == nil {
		return http.StatusOK
	}
	switch KindOf(err) {
	case Invalid:
		return http.StatusBadRequest
	case NotFound:
		return http.StatusNotFound
	case Conflict:
		return http.StatusConflict
	case Unavailable:
		return http.StatusServiceUnavailable
	case TooLarge:
		return http.StatusRequestEntityTooLarge
	case Unauthorized:
		return http.StatusUnauthorized
	}
	return http.StatusInternalServerError
}
