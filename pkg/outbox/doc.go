// Package outbox is matching's transactional outbox: events are written in
// the transaction of the change that caused them, published after commit,
// and what could not be delivered then is published later by the relay, in
// creation order per entity (the ordering key, "anfrage:2"; the Kafka record
// key stays the seed's partition key, the bare id).
//
// Add writes the rows in the caller's transaction. The Publisher sends them:
// Publish queues the ids of a committed transaction for a background batch
// (queue.go), each batch or relay run claims rows in one transaction
// (claim.go, with its SQL) and sends them per ordering key (send.go), and
// Relay publishes what is left (relay.go). DESIGN.md in this directory
// records the measurements and the designs tried that gave the publisher its
// shape.
package outbox
