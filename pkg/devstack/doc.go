// Package devstack composes the whole matching service on one machine for
// `make run` and the end-to-end tests: PostgreSQL (found or throwaway), the
// embedded Kafka-protocol broker, the event handlers in Kafka-direct mode, the
// outbox relay, the anfrage API and the fake neighbour services with demo
// data (Start). It also holds what the developer commands of cmd/matching-dev
// need: publishing an event (Publish), following a topic (Tail), the state
// file through which they find a running stack (State), and running the
// follow-up function once against it (FollowUpCommand). Nothing in
// production imports it.
//
// The functions run in-process exactly as their mains run them: runtime.Run
// with the same definitions (handlers.Consumers, handlers.OutboxRelay and
// api.Function), each with its own pool, sink, metrics and HTTP server
// (GET /metrics included). A consumer added to handlers.Consumers runs here
// without a change to this package.
package devstack
