// Package runtime is what every served function shares: the structured
// logger, the HTTP server that receives CloudEvents (binary and structured
// mode) and answers the health probes, the Kafka-direct consumer loop for
// running without Knative, and Run, which wires configuration, database pool,
// sink and outbox publisher to one Handler and serves until SIGTERM.
//
// It holds no business rule and no SQL beyond the readiness ping: a function
// hands it one Handler (in practice an *inbox.Processor) and the runtime maps
// the handler's outcome to an HTTP status or to a Kafka offset decision:
//
//	outcome               HTTP                    Kafka direct
//	processed/duplicate   200                     mark offset
//	ignored               200                     mark offset
//	rejected (poison)     400 or 422, no change   publish to the DLQ topic, then mark
//	failed (transient)    500 or 503              retry in place with capped backoff
package runtime
