package campaign

import (
	"context"
	"fmt"
	"strconv"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// A unit is a few events about one entity of its own, sent in order along
// one path: what they must do is known from the unit alone, so the model of
// the expected state is the list of units.
type unit struct {
	kind unitKind
	// path is modeKafka or modeHTTP.
	path string
	// id is the patient, therapist or email the events name.
	id int64
	// events are the unit's events in sending order.
	events []sentEvent
}

type unitKind int

const (
	// A patient with an aktiv search is created, updated, deleted: the
	// search is cancelled once, with one search.status_changed.
	unitPatient unitKind = iota
	// A therapist with an unsent anfrage is created, updated, blocked,
	// unblocked: the anfrage is cancelled once, with one
	// therapeutenanfrage.cancelled.
	unitTherapist
	// An anfrage's email is created and sent, a call is scheduled and
	// completed: the anfrage gets one "Email … sent" note.
	unitEmail
	// A therapist replies to an anfrage's email (nothing the reading can
	// decide): one stored reply, one review note, one
	// therapeutenanfrage.response_review_needed.
	unitReply
	unitKinds
)

func (k unitKind) String() string {
	return [...]string{"patient", "therapist", "email", "reply"}[k]
}

// sentEvent is one consumed event the campaign sends.
type sentEvent struct {
	ID, Type string
	Payload  []byte
	// Consumer is the consumer group (processed_events.consumer) and
	// Function the function that handles it.
	Consumer, Function string
}

// Entity ids of the units start here, far above anything else.
const idBase = 1_000_000

// blockReason is the reason of the campaign's therapist.blocked events.
const blockReason = "Kampagne"

// replyBody is a reply the reading cannot decide: it names nobody.
const replyBody = "Guten Tag, vielen Dank für Ihre Anfrage. Ich melde mich nach dem Urlaub bei Ihnen. Mit freundlichen Grüßen"

// plan builds units of every kind, alternating the paths, until they hold
// at least n events.
func plan(n int) []*unit {
	var units []*unit
	total := 0
	for i := 0; total < n; i++ {
		kind := unitKind(i % int(unitKinds))
		path := modeKafka
		if (i/int(unitKinds))%2 == 1 {
			path = modeHTTP
		}
		u := &unit{kind: kind, path: path, id: int64(idBase + i)}
		u.events = unitEvents(u, i)
		total += len(u.events)
		units = append(units, u)
	}
	return units
}

func unitEvents(u *unit, i int) []sentEvent {
	id := strconv.FormatInt(u.id, 10)
	ev := func(typ, consumer, function, payload string) sentEvent {
		return sentEvent{ID: fmt.Sprintf("campaign-%d-%s", i, typ), Type: typ, Payload: []byte(payload),
			Consumer: consumer, Function: function}
	}
	pat := func(typ string) sentEvent {
		return ev(typ, handlers.PatientGroup, handlers.PatientDeletedName, `{"patient_id":`+id+`}`)
	}
	ther := func(typ, extra string) sentEvent {
		return ev(typ, handlers.TherapistGroup, handlers.TherapistBlockedName, `{"therapist_id":`+id+extra+`}`)
	}
	comm := func(typ, payload string) sentEvent {
		return ev(typ, handlers.CommunicationGroup, handlers.CommunicationEventsName, payload)
	}
	switch u.kind {
	case unitPatient:
		return []sentEvent{pat(events.PatientCreated), pat(events.PatientUpdated), pat(events.PatientDeleted)}
	case unitTherapist:
		return []sentEvent{ther(events.TherapistCreated, ""), ther(events.TherapistUpdated, ""),
			ther(events.TherapistBlocked, `,"reason":"`+blockReason+`"`), ther(events.TherapistUnblocked, "")}
	case unitEmail:
		return []sentEvent{
			comm(events.EmailCreated, `{"email_id":`+id+`}`), comm(events.EmailSent, `{"email_id":`+id+`}`),
			comm(events.CallScheduled, `{"call_id":`+id+`}`), comm(events.PhoneCallCompleted, `{"call_id":`+id+`}`),
		}
	default:
		return []sentEvent{comm(events.EmailResponseReceived, `{"email_id":`+id+`,"response_data":{"subject":"AW: Anfrage",`+
			`"body":"`+replyBody+`","from":"praxis@example.org","received_at":"2026-12-01T10:00:00"}}`)}
	}
}

// idsOf returns the ids of the units of kind.
func idsOf(units []*unit, kind unitKind) []int64 {
	var ids []int64
	for _, u := range units {
		if u.kind == kind {
			ids = append(ids, u.id)
		}
	}
	return ids
}

// replyTherapist is the therapist of the anfragen of email and reply units.
const replyTherapist = 2 * idBase

// seed stores what the units' events act on: an aktiv search per patient
// unit, an unsent anfrage per therapist unit, a sent anfrage per email and
// reply unit; and the patients and therapists at the fake services (the
// copy reads them), with apiPatients more patients for the API traffic.
func (e *env) seed(ctx context.Context, units []*unit, apiPatients []int64) error {
	for _, id := range append(idsOf(units, unitPatient), apiPatients...) {
		e.fake.AddPatient(fake.SamplePatient(map[string]any{"id": id}))
	}
	for _, id := range idsOf(units, unitTherapist) {
		e.fake.AddTherapist(fake.SampleTherapist(map[string]any{"id": id}))
	}
	e.fake.AddTherapist(fake.SampleTherapist(map[string]any{"id": apiTherapist, "plz": "80331", "ort": "München"}))
	sent := append(idsOf(units, unitEmail), idsOf(units, unitReply)...)
	_, err := e.pool.Exec(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status) SELECT unnest($1::int[]), 'aktiv';
		`, idsOf(units, unitPatient))
	if err != nil {
		return fmt.Errorf("seed searches: %w", err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse)
		SELECT unnest($1::int[]), 1`, idsOf(units, unitTherapist)); err != nil {
		return fmt.Errorf("seed unsent anfragen: %w", err)
	}
	if _, err := e.pool.Exec(ctx, `INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse, gesendet_datum, email_id)
		SELECT $2, 1, now() AT TIME ZONE 'utc', unnest($1::int[])`, sent, replyTherapist); err != nil {
		return fmt.Errorf("seed sent anfragen: %w", err)
	}
	return nil
}
