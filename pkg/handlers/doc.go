// Package handlers holds the event handlers of the consumer functions:
// patient-events (patient-deleted), therapist-events (therapist-blocked) and
// communication-events (communication-events). Each is an *inbox.Processor
// whose routes parse the payload, run the cascade's SQL (pkg/store) inside
// the inbox transaction and return the events to emit through the outbox;
// a therapist's email reply is a use case (placement.ReceiveReply) run in
// that transaction, after its payload was read in a prepared route. With
// WithCopy the patient and therapist handlers also keep matching's copy
// of patients and therapists (pkg/directory): a prepared route fetches the
// record before the transaction, stores it in it, and applies the re-checks
// of unsent anfragen (pkg/placement) after the commit. It also holds the
// outbox relay's trigger (which sweeps the re-checks a stopped process
// left), the directory-sync job, and the definition of each of these
// functions (functions.go, copy.go) that their mains and the local stack
// hand to runtime.Run.
//
// A handler's clock is the event's: every timestamp and note it writes takes
// events.Inbound.At (naive UTC, like the reference's columns), the time the
// inbox stamped on the event and recorded with it, so that a replay of the
// event writes the same.
//
// Each consumer has the seed's consumer-group name, which is also its name
// in processed_events, so switching between Knative delivery and Kafka
// direct keeps the record of what was processed.
package handlers

import (
	"log/slog"
)

func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
