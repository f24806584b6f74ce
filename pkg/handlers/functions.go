package handlers

import (
	"context"
	"errors"

	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
)

// Consumer groups (and processed_events consumer names) and default topics
// of the three consumers, as the seed names them.
const (
	PatientGroup       = "matching-service-patient"
	PatientTopic       = "patient-events"
	TherapistGroup     = "matching-service-therapist"
	TherapistTopic     = "therapist-events"
	CommunicationGroup = "matching-service-communication"
	CommunicationTopic = "communication-events"
)

// The names of the two functions that keep matching's copy.
const (
	PatientDeletedName   = "patient-deleted"
	TherapistBlockedName = "therapist-blocked"
)

// PatientDeleted is the patient-deleted function with settings s:
// patient-events, handled by Patient, keeping matching's copy of the
// patients (Settings.NewCopy).
func PatientDeleted(s Settings) runtime.EventFunction {
	return runtime.EventFunction{
		Name:  PatientDeletedName,
		Topic: PatientTopic,
		Group: PatientGroup,
		New: func(d runtime.Deps) runtime.Handler {
			return Patient(d.Pool, publisher(d), d.Log, WithCopy(s.NewCopy(d)))
		},
	}
}

// TherapistBlocked is the therapist-blocked function with settings s:
// therapist-events, handled by Therapist, keeping matching's copy of the
// therapists.
func TherapistBlocked(s Settings) runtime.EventFunction {
	return runtime.EventFunction{
		Name:  TherapistBlockedName,
		Topic: TherapistTopic,
		Group: TherapistGroup,
		New: func(d runtime.Deps) runtime.Handler {
			return Therapist(d.Pool, publisher(d), d.Log, WithCopy(s.NewCopy(d)))
		},
	}
}

// CommunicationEventsName is the communication-events function's name.
const CommunicationEventsName = "communication-events"

// CommunicationEvents is the communication-events function with settings s:
// communication-events, handled by Communication, whose email replies are
// recorded with the business parameters of s (Settings.Replies).
func CommunicationEvents(s Settings) runtime.EventFunction {
	return runtime.EventFunction{
		Name:  CommunicationEventsName,
		Topic: CommunicationTopic,
		Group: CommunicationGroup,
		New: func(d runtime.Deps) runtime.Handler {
			return Communication(d.Pool, publisher(d), d.Log, s.Replies(d))
		},
	}
}

// publisher is the runtime's publisher as the inbox takes it: none when
// Deps has none (the replay runs the handlers without publishing), as a nil
// *outbox.Publisher in the interface would not compare nil.
func publisher(d runtime.Deps) inbox.Publisher {
	if d.Publisher == nil {
		return nil
	}
	return d.Publisher
}

// Replies are the use cases communication-events records a therapist's
// email reply with: the business parameters (cooling period, time zone) and
// the therapist service for the cooling write-back. The handler writes
// their events to the outbox in its own transaction, which the inbox
// publishes: the service gets no publisher.
func (s Settings) Replies(d runtime.Deps) *placement.Service {
	clients := neighbours.NewClients(s.Neighbours)
	return placement.New(placement.Config{
		Pool: d.Pool, Patients: clients.Patients, Therapists: clients.Therapists,
		Distances: clients.Distances, Communication: clients.Communication,
		Matching: s.Matching, Log: d.Log,
	})
}

// Consumers are the event functions with settings s, in the order the local
// stack gives them ports. A new consumer function is added here (and gets
// its main in functions/ and its manifests in k8s/), so that make run and
// the end-to-end tests run it as it ships.
func Consumers(s Settings) []runtime.EventFunction {
	return []runtime.EventFunction{PatientDeleted(s), TherapistBlocked(s), CommunicationEvents(s)}
}

// OutboxRelayName is the outbox-relay function's name.
const OutboxRelayName = "outbox-relay"

// OutboxRelay is the outbox-relay function with settings s: every POST (a
// PingSource tick under Knative) runs one pass of Relay over the runtime's
// publisher, and so does a timer every s.Interval when that is set. Each
// pass then applies the re-checks of unsent anfragen that have waited
// longer than placement.RecheckSweepAge (SweepRechecks over the copy of
// settings c): what a process that died after its commit left; and the
// retention (Prune).
func OutboxRelay(s RelaySettings, c Settings) runtime.TriggerFunction {
	return runtime.TriggerFunction{
		Name: OutboxRelayName,
		New: func(d runtime.Deps) func(ctx context.Context) error {
			relay, prune := sweepAfter(Relay(d.Publisher, d.Log), c.NewCopy(d), d.Log), Prune(d.Pool, s.Retention(), d.Log)
			return func(ctx context.Context) error {
				// Pruning does not wait for a sink that is down.
				return errors.Join(relay(ctx), prune(ctx))
			}
		},
		Every: s.Interval,
	}
}
