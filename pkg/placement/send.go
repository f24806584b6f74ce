package placement

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/store"
)

// emailQueued is the status emails are created with: queued for the
// communication service's sender straight away (the reference created a
// draft and queued it with a second call that could fail silently).
const emailQueued = "In_Warteschlange"

// Sent is a successful send.
type Sent struct {
	AnfrageID int64
	// Channel is events.ChannelEmail or events.ChannelPhoneCall; the
	// matching id is set.
	Channel     string
	EmailID     *int64
	PhoneCallID *int64
	SentAt      time.Time
}

func alreadySent(sentAt time.Time) error {
	return fault.Invalidf("Anfrage already sent").With("sent_date", matching.FormatTimestamp(sentAt))
}

func sendFailed(reason string, cause error) error {
	return internalError("Failed to send anfrage: "+reason, cause)
}

// checkSendable refuses a cancelled (409) or already sent (400) anfrage.
func checkSendable(a store.Anfrage) error {
	if a.CancelledAt != nil {
		return fault.Conflictf("Anfrage %d was cancelled", a.ID)
	}
	if a.SentAt != nil {
		return alreadySent(*a.SentAt)
	}
	return nil
}

// Letter is the email that sends anfrage anfrageID with the patients (in
// position order) to therapist t: the reference's subject with the anfrage's
// reference, the anonymous German letter (matching.RenderEmail), the
// recipient's trimmed address ("" when the therapist has none) and name,
// and the communication service's legal footer. The status is the
// caller's.
func Letter(t neighbours.Therapist, patients []matching.Patient, anfrageID int64, today time.Time) neighbours.Email {
	facts := t.Matching()
	return neighbours.Email{
		TherapistID:     t.ID,
		Betreff:         matching.EmailSubject(anfrageID),
		InhaltMarkdown:  matching.RenderEmail(facts, patients, anfrageID, today),
		EmpfaengerEmail: strings.TrimSpace(deref(t.Email)),
		EmpfaengerName:  matching.RecipientName(facts),
		AddLegalFooter:  true,
	}
}

// Send sends anfrage id to its therapist: by email when the therapist has an
// address, else by scheduling a phone call; it emits therapeutenanfrage.sent.
// Errors: 404 unknown; 409 cancelled; 400 already sent; 503 a neighbour
// down; 500 "Failed to send anfrage: …" when the therapist is gone, a
// patient record is missing or the communication service refuses.
//
// The anfrage's row lock is held from the check "not sent yet" across the
// call to the communication service until the commit that records the send,
// so of two concurrent sends one creates the email and the other, once the
// lock is free, finds the anfrage sent (400). The lock costs one pooled
// connection for the length of one neighbour call (bounded by
// NEIGHBOUR_TIMEOUT) and blocks nothing but other sends and responses of the
// same anfrage. The therapist and patient records are read before the lock
// is taken. What remains is the crash window of any non-idempotent remote
// create: if the commit fails after the communication service created the
// email (or the call timed out after it did), the anfrage stays unsent and a
// retry creates a second email.
func (s *Service) Send(ctx context.Context, id int64) (Sent, error) {
	a, err := store.GetAnfrage(ctx, s.cfg.Pool, id)
	if err != nil {
		return Sent{}, err
	}
	if err := checkSendable(a); err != nil {
		return Sent{}, err
	}
	t, err := s.cfg.Therapists.Therapist(ctx, a.TherapistID)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return Sent{}, sendFailed("Therapist not found", err)
		}
		return Sent{}, err
	}
	entries, err := store.AnfrageEntries(ctx, s.cfg.Pool, id)
	if err != nil {
		return Sent{}, err
	}
	found, err := neighbours.FetchAll(ctx, patientIDs(entries), s.cfg.Concurrency, s.cfg.Patients.Patient)
	if err != nil {
		return Sent{}, err
	}
	patients := make([]matching.Patient, 0, len(entries))
	for _, e := range entries {
		if p, ok := found[e.PatientID]; ok {
			patients = append(patients, p.Matching())
		}
	}
	if len(patients) != a.Size || len(patients) == 0 {
		return Sent{}, sendFailed("Patient data incomplete", nil)
	}

	now := s.now()
	today := s.today(now)
	res := Sent{AnfrageID: id, SentAt: now}
	// From here on a caller hanging up must not abort the send half-way
	// (an email created, its anfrage not marked): NEIGHBOUR_TIMEOUT and the
	// database bound the rest.
	ctx = context.WithoutCancel(ctx)
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		locked, err := store.LockAnfrage(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := checkSendable(locked); err != nil {
			return nil, err
		}
		var commID int64
		if letter := Letter(t, patients, id, today); letter.EmpfaengerEmail != "" {
			res.Channel = events.ChannelEmail
			letter.Status = emailQueued
			eid, err := s.cfg.Communication.CreateEmail(ctx, letter)
			if err != nil {
				if fault.KindOf(err) == fault.Unavailable {
					return nil, err
				}
				return nil, sendFailed("Email creation failed", err)
			}
			res.EmailID, commID = &eid, eid
		} else {
			res.Channel = events.ChannelPhoneCall
			day := matching.NextWorkingDay(today)
			pid, err := s.cfg.Communication.CreatePhoneCall(ctx, neighbours.PhoneCall{
				TherapistID:          t.ID,
				TherapeutenanfrageID: id,
				GeplantesDatum:       day.Format("2006-01-02"),
				GeplanteZeit:         matching.CallTime(t.TelefonischeErreichbarkeit, day, s.cfg.Matching.DefaultPhoneCallTime),
				Notizen:              fmt.Sprintf("Follow-up für Anfrage A%d", id),
			})
			if err != nil {
				if fault.KindOf(err) == fault.Unavailable {
					return nil, err
				}
				return nil, sendFailed("Phone call scheduling failed", err)
			}
			res.PhoneCallID, commID = &pid, pid
		}
		if err := store.MarkSent(ctx, tx, id, res.EmailID, res.PhoneCallID, now); err != nil {
			return nil, err
		}
		return []events.Outgoing{events.NewAnfrageSent(events.AnfrageSentData{
			AnfrageID: id, CommunicationType: res.Channel, CommunicationID: &commID,
		})}, nil
	})
	if err != nil {
		return Sent{}, err
	}
	s.logLifecycle(ctx, "anfrage sent", events.AnfrageSent, id, ids,
		slog.Int64("therapist_id", a.TherapistID), slog.String("channel", res.Channel))
	s.publish(ctx, ids)
	return res, nil
}
