package handlers

import (
	"context"

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

// PatientDeleted is the patient-deleted function: patient-events, handled by
// Patient.
var PatientDeleted = runtime.EventFunction{
	Name:  "patient-deleted",
	Topic: PatientTopic,
	Group: PatientGroup,
	New:   func(d runtime.Deps) runtime.Handler { return Patient(d.Pool, d.Publisher, d.Log) },
}

// TherapistBlocked is the therapist-blocked function: therapist-events,
// handled by Therapist.
var TherapistBlocked = runtime.EventFunction{
	Name:  "therapist-blocked",
	Topic: TherapistTopic,
	Group: TherapistGroup,
	New:   func(d runtime.Deps) runtime.Handler { return Therapist(d.Pool, d.Publisher, d.Log) },
}

// CommunicationEvents is the communication-events function:
// communication-events, handled by Communication.
var CommunicationEvents = runtime.EventFunction{
	Name:  "communication-events",
	Topic: CommunicationTopic,
	Group: CommunicationGroup,
	New:   func(d runtime.Deps) runtime.Handler { return Communication(d.Pool, d.Publisher, d.Log) },
}

// Consumers are the event functions, in the order the local stack gives
// them ports. A new consumer function is added here (and gets its main in
// functions/ and its manifests in k8s/), so that make run and the
// end-to-end tests run it as it ships.
var Consumers = []runtime.EventFunction{PatientDeleted, TherapistBlocked, CommunicationEvents}

// OutboxRelayName is the outbox-relay function's name.
const OutboxRelayName = "outbox-relay"

// OutboxRelay is the outbox-relay function with settings s: every POST (a
// PingSource tick under Knative) runs one pass of Relay over the runtime's
// publisher, and so does a timer every s.Interval when that is set.
func OutboxRelay(s RelaySettings) runtime.TriggerFunction {
	return runtime.TriggerFunction{
		Name:  OutboxRelayName,
		New:   func(d runtime.Deps) func(ctx context.Context) error { return Relay(d.Publisher, d.Log) },
		Every: s.Interval,
	}
}
