package events

import (
	"strconv"
)

// Consumed event types (canonical names; see Canonical for the aliases).
const (
	PatientCreated        = "patient.created"
	PatientUpdated        = "patient.updated"
	PatientDeleted        = "patient.deleted"
	TherapistBlocked      = "therapist.blocked"
	TherapistUnblocked    = "therapist.unblocked"
	TherapistUpdated      = "therapist.updated"
	EmailSent             = "email.sent"
	EmailResponseReceived = "email.response_received"
	PhoneCallCompleted    = "phone_call.completed"
	CallScheduled         = "communication.call_scheduled"
	EmailCreated          = "communication.email_created"
)

// Emitted event types (topic matching-events).
const (
	AnfrageCreated           = "therapeutenanfrage.created"
	AnfrageSent              = "therapeutenanfrage.sent"
	AnfrageResponseReceived  = "therapeutenanfrage.response_received"
	AnfrageCancelled         = "therapeutenanfrage.cancelled"
	AnfrageFollowUpScheduled = "therapeutenanfrage.follow_up_scheduled"
	AnfrageReviewNeeded      = "therapeutenanfrage.response_review_needed"
	SearchStatusChanged      = "search.status_changed"
	CoolingPeriodStarted     = "cooling.period_started"
)

// TherapistCreated is consumed to add a new therapist to matching's copy
// (enhancements A1).
const TherapistCreated = "therapist.created"

// Emitted (topic matching-events) when a re-check removed patients from an
// unsent anfrage and refilled it (enhancements A3).
const AnfrageCompositionChanged = "therapeutenanfrage.composition_changed"

// Source is the CloudEvents source of every event matching emits; it is also
// the reference envelope's producer name.
const Source = "matching-service"

// aliases maps the names the seed document uses to the names the
// communication service really publishes.
var aliases = map[string]string{
	"communication.email_sent":              EmailSent,
	"communication.email_response_received": EmailResponseReceived,
}

// Canonical returns the canonical name of an event type.
func Canonical(eventType string) string {
	if c, ok := aliases[eventType]; ok {
		return c
	}
	return eventType
}

// Outcome is what became of a consumed event; it labels logs and metrics.
type Outcome string

const (
	// Processed: the event's effects were committed.
	Processed Outcome = "processed"
	// Duplicate: the event was processed before; acknowledged, no effect.
	Duplicate Outcome = "duplicate"
	// Ignored: a type this consumer deliberately does not act on.
	Ignored Outcome = "ignored"
	// Rejected: a poison event (unparseable, missing or mistyped field).
	Rejected Outcome = "rejected"
	// Failed: a transient failure; the event will be delivered again.
	Failed Outcome = "failed"
	// Exhausted: a failure nobody classified, retried as often as
	// KAFKA_MAX_ATTEMPTS allows and then dead-lettered (Kafka-direct mode).
	Exhausted Outcome = "exhausted"
)

// Outgoing is an event matching emits: written to the outbox in the
// transaction that caused it, published after commit. Key is the partition
// key (the seed's message key); Data is marshalled to JSON as the payload.
type Outgoing struct {
	Type string
	Key  string
	// Entity names what Key identifies (EntityAnfrage, EntitySearch,
	// EntityTherapist). The outbox publishes the events of one entity in
	// the order they were written (OrderingKey); empty orders by Key alone.
	Entity string
	Data   any
}

// The entities emitted events are about. The seed keys events by the bare
// id, so "2" is anfrage 2, search 2 and therapist 2 at once; ordering by
// entity and id keeps one entity's events in order without a stuck event
// of one entity holding back another's.
const (
	EntityAnfrage   = "anfrage"
	EntitySearch    = "search"
	EntityTherapist = "therapist"
)

// OrderingKey is what the outbox keeps the order of: entity:key
// ("anfrage:2"), or the key when the event names no entity. The Kafka
// record key stays Key.
func (o Outgoing) OrderingKey() string {
	if o.Entity == "" {
		return o.Key
	}
	return o.Entity + ":" + o.Key
}

func key(id int64) string { return strconv.FormatInt(id, 10) }

// AnfrageCreatedData is the payload of therapeutenanfrage.created.
type AnfrageCreatedData struct {
	AnfrageID   int64   `json:"anfrage_id"`
	TherapistID int64   `json:"therapist_id"`
	PatientIDs  []int64 `json:"patient_ids"`
	AnfrageSize int     `json:"anfrage_size"`
}

// NewAnfrageCreated builds therapeutenanfrage.created, keyed by the anfrage.
func NewAnfrageCreated(d AnfrageCreatedData) Outgoing {
	if d.PatientIDs == nil {
		d.PatientIDs = []int64{}
	}
	return Outgoing{Type: AnfrageCreated, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// Communication types of therapeutenanfrage.sent.
const (
	ChannelEmail     = "email"
	ChannelPhoneCall = "phone_call"
)

// AnfrageSentData is the payload of therapeutenanfrage.sent.
type AnfrageSentData struct {
	AnfrageID         int64  `json:"anfrage_id"`
	CommunicationType string `json:"communication_type"`
	CommunicationID   int64  `json:"communication_id"`
}

// NewAnfrageSent builds therapeutenanfrage.sent, keyed by the anfrage.
func NewAnfrageSent(d AnfrageSentData) Outgoing {
	return Outgoing{Type: AnfrageSent, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// AnfrageResponseReceivedData is the payload of therapeutenanfrage.response_received.
type AnfrageResponseReceivedData struct {
	AnfrageID       int64  `json:"anfrage_id"`
	ResponseType    string `json:"response_type"`
	AcceptedCount   int    `json:"accepted_count"`
	RejectedCount   int    `json:"rejected_count"`
	NoResponseCount int    `json:"no_response_count"`
}

// NewAnfrageResponseReceived builds therapeutenanfrage.response_received, keyed by the anfrage.
func NewAnfrageResponseReceived(d AnfrageResponseReceivedData) Outgoing {
	return Outgoing{Type: AnfrageResponseReceived, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// AnfrageCancelledData is the payload of therapeutenanfrage.cancelled.
type AnfrageCancelledData struct {
	AnfrageID   int64  `json:"anfrage_id"`
	TherapistID int64  `json:"therapist_id"`
	Reason      string `json:"reason"`
}

// NewAnfrageCancelled builds therapeutenanfrage.cancelled, keyed by the anfrage.
func NewAnfrageCancelled(d AnfrageCancelledData) Outgoing {
	return Outgoing{Type: AnfrageCancelled, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// AnfrageFollowUpScheduledData is the payload of therapeutenanfrage.follow_up_scheduled.
type AnfrageFollowUpScheduledData struct {
	AnfrageID     int64  `json:"anfrage_id"`
	TherapistID   int64  `json:"therapist_id"`
	PhoneCallID   int64  `json:"phone_call_id"`
	ScheduledDate string `json:"scheduled_date"` // YYYY-MM-DD
	ScheduledTime string `json:"scheduled_time"` // HH:MM
}

// NewAnfrageFollowUpScheduled builds therapeutenanfrage.follow_up_scheduled, keyed by the anfrage.
func NewAnfrageFollowUpScheduled(d AnfrageFollowUpScheduledData) Outgoing {
	return Outgoing{Type: AnfrageFollowUpScheduled, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// RemovedPatient is a patient a re-check took out of an anfrage, and why:
// the hard constraint she no longer passes, or her search's status.
type RemovedPatient struct {
	PatientID int64  `json:"patient_id"`
	Reason    string `json:"reason"`
}

// AnfrageCompositionChangedData is the payload of
// therapeutenanfrage.composition_changed. AnfrageSize is the size after the
// change, 0 when the anfrage was left empty and deleted.
type AnfrageCompositionChangedData struct {
	AnfrageID   int64            `json:"anfrage_id"`
	TherapistID int64            `json:"therapist_id"`
	Removed     []RemovedPatient `json:"removed"`
	Added       []int64          `json:"added"`
	AnfrageSize int              `json:"anfrage_size"`
}

// NewAnfrageCompositionChanged builds therapeutenanfrage.composition_changed,
// keyed by the anfrage.
func NewAnfrageCompositionChanged(d AnfrageCompositionChangedData) Outgoing {
	if d.Removed == nil {
		d.Removed = []RemovedPatient{}
	}
	if d.Added == nil {
		d.Added = []int64{}
	}
	return Outgoing{Type: AnfrageCompositionChanged, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// AnfrageReviewNeededData is the payload of
// therapeutenanfrage.response_review_needed: a therapist's email reply to
// the anfrage was stored for a clerk to review instead of being recorded.
type AnfrageReviewNeededData struct {
	AnfrageID           int64   `json:"anfrage_id"`
	TherapistID         int64   `json:"therapist_id"`
	EmailID             int64   `json:"email_id"`
	UndecidedPatientIDs []int64 `json:"undecided_patient_ids"`
}

// NewAnfrageReviewNeeded builds therapeutenanfrage.response_review_needed,
// keyed by the anfrage.
func NewAnfrageReviewNeeded(d AnfrageReviewNeededData) Outgoing {
	if d.UndecidedPatientIDs == nil {
		d.UndecidedPatientIDs = []int64{}
	}
	return Outgoing{Type: AnfrageReviewNeeded, Key: key(d.AnfrageID), Entity: EntityAnfrage, Data: d}
}

// SearchStatusChangedData is the payload of search.status_changed. OldStatus
// is null when the search was created.
type SearchStatusChangedData struct {
	SearchID  int64   `json:"search_id"`
	PatientID int64   `json:"patient_id"`
	OldStatus *string `json:"old_status"`
	NewStatus string  `json:"new_status"`
}

// NewSearchStatusChanged builds search.status_changed, keyed by the search.
func NewSearchStatusChanged(d SearchStatusChangedData) Outgoing {
	return Outgoing{Type: SearchStatusChanged, Key: key(d.SearchID), Entity: EntitySearch, Data: d}
}

// Reasons of cooling.period_started.
const (
	CoolingResponseReceived = "response_received"
	CoolingManual           = "manual"
)

// CoolingPeriodStartedData is the payload of cooling.period_started.
type CoolingPeriodStartedData struct {
	TherapistID         int64  `json:"therapist_id"`
	NextContactableDate string `json:"next_contactable_date"` // YYYY-MM-DD
	Reason              string `json:"reason"`
}

// NewCoolingPeriodStarted builds cooling.period_started, keyed by the therapist.
func NewCoolingPeriodStarted(d CoolingPeriodStartedData) Outgoing {
	return Outgoing{Type: CoolingPeriodStarted, Key: key(d.TherapistID), Entity: EntityTherapist, Data: d}
}
