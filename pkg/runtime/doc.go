// Package runtime is what every served function shares: the structured
// logger, the HTTP server that receives CloudEvents (binary and structured
// mode) and answers the health probes and GET /metrics, the Kafka-direct
// consumer loop for running without Knative, and Run, which wires
// configuration, database pool, sink, metrics and outbox publisher to one
// Handler (or trigger, or plain HTTP routes) and serves until SIGTERM.
//
// Every event the server or the consumer hands to a Handler is counted by
// source (the topic), type and outcome and timed (pkg/metrics); the consumer
// also keeps the lag of each partition it holds. Logs follow the seed: an
// event handled at DEBUG, one not handled at ERROR with its error chain, and
// every line about an event carries its type, id and key (events.Inbound
// logs itself).
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
