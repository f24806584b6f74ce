// Package runtime is what every function shares: the structured logger, the
// bootstrap (Open: database pool and migrations, sink, metrics, outbox
// publisher), the HTTP server that receives CloudEvents (binary and
// structured mode) and answers the health probes and GET /metrics, the
// Kafka-direct consumer loop for running without Knative, and Run, which
// serves one Function until SIGTERM.
//
// A Function is one of three kinds, each built from what Open opened (Deps):
// an EventFunction (a Handler of consumed events, with its topic and
// consumer group), an HTTPFunction (plain routes: the anfrage API) or a
// TriggerFunction (work a POST or a timer starts: the outbox relay). What a
// kind builds may also implement Stopper and ReadinessReporter. Each
// function's definition lives beside the code it wires (pkg/handlers,
// pkg/api); its main and pkg/devstack run that same value.
//
// Every event the server or the consumer hands to a Handler is counted by
// source (the topic), type and outcome and timed (pkg/metrics); the consumer
// also keeps the lag of each partition it holds. Logs follow the seed: an
// event handled at DEBUG, one not handled at ERROR with its error chain, and
// every line about an event carries its type, id and key (events.Inbound
// logs itself).
//
// It holds no business rule and no SQL beyond the readiness ping: the
// runtime maps a handler's outcome to an HTTP status or to a Kafka offset
// decision, the error's kind deciding the status (fault.EventStatus):
//
//	outcome               HTTP                    Kafka direct
//	processed/duplicate   200                     mark offset
//	ignored               200                     mark offset
//	rejected (poison)     400 (fault.Malformed)   publish to the DLQ topic, then mark
//	                      or 422 (fault.Invalid, …), no change
//	failed (transient)    500 or 503              retry in place with capped backoff
package runtime
