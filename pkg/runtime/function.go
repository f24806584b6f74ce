package runtime

import (
	"context"
	"net/http"
	"time"
)

// Function is one function of the service as Run serves it. A function's
// main and the local stack (pkg/devstack) hand Run the same value, defined
// once beside the code it wires (handlers.PatientDeleted, api.Function, …).
//
// EventFunction, HTTPFunction and TriggerFunction are its kinds, each with
// the fields that kind needs. Function's methods are unexported, so no other
// package adds a kind: the compiler checks that a function is exactly one of
// them.
//
// What a kind's New returns (the function's work) may also implement the
// optional interfaces Stopper and ReadinessReporter; Run finds them by type
// assertion, as knative's func-go does for its functions.
type Function interface {
	functionName() string
	serve(Deps) serving
}

// EventFunction is a function that consumes events: CloudEvents POSTed to
// it (Knative) or, in Kafka-direct mode, the records of its topic.
type EventFunction struct {
	// Name names the function on every log line (patient-deleted, …).
	Name string
	// Topic and Group are what the function consumes in Kafka-direct mode
	// unless KAFKA_TOPIC and KAFKA_CONSUMER_GROUP say otherwise. The topic
	// is also the source label of its consumption metrics.
	Topic, Group string
	// New builds the function's handler from what Run opened.
	New func(Deps) Handler
}

// HTTPFunction is a function that serves plain HTTP routes (the anfrage
// API): every request but the health endpoints and GET /metrics. It
// consumes no events.
type HTTPFunction struct {
	// Name names the function on every log line.
	Name string
	// New builds the function's routes from what Run opened.
	New func(Deps) http.Handler
}

// TriggerFunction is a function whose work every POST starts, whatever its
// body (a PingSource tick), and optionally a timer too (the outbox relay).
type TriggerFunction struct {
	// Name names the function on every log line.
	Name string
	// New builds the function's work from what Run opened. A POST is
	// answered 200 when the work returns nil, else with the status of the
	// error's kind (fault.EventStatus).
	New func(Deps) func(context.Context) error
	// Every also runs the work at start and then on this interval (0: only
	// when POSTed to).
	Every time.Duration
}

// Stopper is implemented by a function's work that holds something to
// finish when the function stops. Run calls Stop once the HTTP server and
// the consumer have drained, and before the outbox publisher's final flush,
// so that what Stop writes to the outbox is still published.
type Stopper interface {
	Stop(ctx context.Context) error
}

// ReadinessReporter is implemented by a function's work that can tell
// whether it is ready beyond the database answering: GET /health/readiness
// answers 503 while Ready returns an error.
type ReadinessReporter interface {
	Ready(ctx context.Context) error
}

// serving is what Run serves for a function of any kind: exactly one of
// handler, trigger and mount is set.
type serving struct {
	handler      Handler
	topic, group string
	trigger      func(context.Context) error
	every        time.Duration
	mount        http.Handler
	// work is what New returned, for the optional interfaces.
	work any
}

func (f EventFunction) functionName() string { return f.Name }

func (f EventFunction) serve(d Deps) serving {
	h := f.New(d)
	return serving{handler: h, topic: f.Topic, group: f.Group, work: h}
}

func (f HTTPFunction) functionName() string { return f.Name }

func (f HTTPFunction) serve(d Deps) serving {
	h := f.New(d)
	return serving{mount: h, work: h}
}

func (f TriggerFunction) functionName() string { return f.Name }

func (f TriggerFunction) serve(d Deps) serving {
	t := f.New(d)
	return serving{trigger: t, every: f.Every, work: t}
}
