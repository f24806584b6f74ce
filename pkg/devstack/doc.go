// Package devstack composes the whole matching service on one machine for
// `make run` and the end-to-end tests: PostgreSQL (found or throwaway), the
// embedded Kafka-protocol broker, the event handlers in Kafka-direct mode, the
// outbox relay, the anfrage API and the fake neighbour services with demo
// data. It also holds the developer commands (publish an event, tail
// matching-events). Nothing in production imports it.
package devstack
