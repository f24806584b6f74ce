// Package inbox processes consumed events exactly once in effect: it records
// each event's deduplication key in processed_events in the same transaction
// as the event's effects and its outbox rows, and publishes those rows after
// commit.
package inbox
