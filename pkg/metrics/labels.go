package metrics

import (
	"strings"

	"github.com/curavani/matching/pkg/events"
)

// Label values that stand for many inputs.
const (
	// otherLabel replaces an event type outside the vocabulary, or a source
	// beyond the first maxSources of the process.
	otherLabel = "other"
	// unknownLabel is an event type or source that was not known at all
	// (an event rejected before its type could be read).
	unknownLabel = "unknown"
)

// maxSources bounds the distinct source label values of one process. A
// function consumes one topic; the bound only matters when a caller passes
// something unbounded, such as raw CloudEvent sources.
const maxSources = 16

// emittedTypes are the types matching publishes (topic matching-events).
var emittedTypes = []string{
	events.AnfrageCreated,
	events.AnfrageSent,
	events.AnfrageResponseReceived,
	events.AnfrageCancelled,
	events.AnfrageFollowUpScheduled,
	events.SearchStatusChanged,
	events.CoolingPeriodStarted,
	events.AnfrageCompositionChanged,
}

// consumedTypes are the canonical types matching's functions consume.
var consumedTypes = map[string]bool{
	events.PatientCreated:        true,
	events.PatientUpdated:        true,
	events.PatientDeleted:        true,
	events.TherapistBlocked:      true,
	events.TherapistUnblocked:    true,
	events.TherapistUpdated:      true,
	events.TherapistCreated:      true,
	events.EmailSent:             true,
	events.EmailResponseReceived: true,
	events.PhoneCallCompleted:    true,
	events.CallScheduled:         true,
	events.EmailCreated:          true,
}

// consumedTypeLabel bounds the type label of a consumed event: its canonical
// name when matching knows it, else "other"; "unknown" when it is empty.
func consumedTypeLabel(eventType string) string {
	if eventType == "" {
		return unknownLabel
	}
	if t := events.Canonical(eventType); consumedTypes[t] {
		return t
	}
	return otherLabel
}

// sourceLabel reduces a source to its topic: a Knative KafkaSource names
// itself /apis/v1/namespaces/<ns>/kafkasources/<name>#<topic>, and only the
// topic says something to an operator.
func sourceLabel(source string) string {
	if i := strings.LastIndexByte(source, '#'); i >= 0 {
		source = source[i+1:]
	}
	source = strings.TrimSpace(source)
	if source == "" {
		return unknownLabel
	}
	return source
}
