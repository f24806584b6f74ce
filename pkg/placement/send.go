package placement

import (
	"context"
	"encoding/json"
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
// address, else by scheduling a phone call; it emits therapeutenanfrage.sent
// and keeps the people as the letter showed them (StoreLetterPeople), which
// the therapist's reply will be read against.
// Errors: 404 unknown; 409 cancelled; 400 already sent; 503 a neighbour
// down; 500 "Failed to send anfrage: …" when the therapist is gone, a
// patient record is missing or the communication service refuses.
//
// No transaction spans the call to the communication service, so a slow
// service holds neither a pooled connection nor a row lock: Send reads
// what the letter needs, claims the anfrage in one short transaction
// (store.ClaimAnfrage: not cancelled, not sent, no other sender's claim),
// calls the service with nothing held, and records the email or call with
// the event in a second transaction that ends the claim. Of two concurrent
// sends the second waits for the first's claim to end, as it waited for the
// row lock before, and then finds the anfrage sent (400).
//
// What makes a retry safe: a claim that ended without a recorded result
// (the call failed, possibly after the service created the email; the
// process died; the record's commit failed) leaves its token, and the next
// sender, told Earlier, first looks for the email with the anfrage's subject
// (or the call for the anfrage) and adopts it instead of creating another.
// A second email remains possible only when the service created one without
// answering (a timeout) and does not list it yet when the retry looks, or
// when a claim expired (Config.ClaimTTL, store.ClaimTTL: well above
// NEIGHBOUR_TIMEOUT) while its sender was still waiting for the service.
// An anfrage cancelled or
// deleted while its email was being created is not marked sent: the answer
// is 409 or 404 and the log names the email.
func (s *Service) Send(ctx context.Context, id int64) (Sent, error) {
	a, t, entries, patients, err := s.prepareSend(ctx, id)
	if err != nil {
		return Sent{}, err
	}
	claim, err := s.claimSend(ctx, id, entries)
	if err != nil {
		return Sent{}, err
	}
	// From here on a caller hanging up must not abort the send half-way
	// (an email created, its anfrage not marked): NEIGHBOUR_TIMEOUT and the
	// database bound the rest.
	ctx = context.WithoutCancel(ctx)
	now := s.now()
	res, err := s.communicate(ctx, claim, t, patients, id, s.today(now))
	if err != nil {
		if rerr := store.ReleaseClaim(ctx, s.cfg.Pool, id, claim.Token); rerr != nil {
			s.log.Warn("anfrage send: claim not released; it expires by itself", "anfrage_id", id, "error", rerr.Error())
		}
		return Sent{}, err
	}
	res.SentAt = now
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		out, err := s.recordSend(ctx, tx, claim, res)
		if err != nil {
			return nil, err
		}
		return out, StoreLetterPeople(ctx, tx, id, patients, s.today(now))
	})
	if err != nil {
		return Sent{}, err
	}
	s.logLifecycle(ctx, "anfrage sent", events.AnfrageSent, id, ids,
		slog.Int64("therapist_id", a.TherapistID), slog.String("channel", res.Channel))
	s.publish(ctx, ids)
	return res, nil
}

// prepareSend reads what sending anfrage id needs, holding nothing: the
// anfrage (refusing a sent or cancelled one at once), its therapist, its
// entries and its patients' records.
func (s *Service) prepareSend(ctx context.Context, id int64) (store.Anfrage, neighbours.Therapist, []store.AnfrageEntry, []matching.Patient, error) {
	a, err := store.GetAnfrage(ctx, s.cfg.Pool, id)
	if err != nil {
		return a, neighbours.Therapist{}, nil, nil, err
	}
	if err := checkSendable(a); err != nil {
		return a, neighbours.Therapist{}, nil, nil, err
	}
	t, err := s.cfg.Therapists.Therapist(ctx, a.TherapistID)
	if err != nil {
		if fault.KindOf(err) == fault.NotFound {
			return a, t, nil, nil, sendFailed("Therapist not found", err)
		}
		return a, t, nil, nil, err
	}
	entries, err := store.AnfrageEntries(ctx, s.cfg.Pool, id)
	if err != nil {
		return a, t, nil, nil, err
	}
	found, err := neighbours.FetchAll(ctx, patientIDs(entries), s.cfg.Concurrency, s.cfg.Patients.Patient)
	if err != nil {
		return a, t, nil, nil, err
	}
	patients := make([]matching.Patient, 0, len(entries))
	for _, e := range entries {
		if p, ok := found[e.PatientID]; ok {
			patients = append(patients, p.Matching())
		}
	}
	if len(patients) != a.Size || len(patients) == 0 {
		return a, t, nil, nil, sendFailed("Patient data incomplete", nil)
	}
	return a, t, entries, patients, nil
}

// checkUnchanged refuses (409) to send anfrage id when its patients are no
// longer the entries read before the claim: a re-check of its composition
// (enhancements A3) changed them in between. Once the anfrage is claimed a
// re-check leaves it alone, so the letter names the patients it holds.
func checkUnchanged(ctx context.Context, tx pgx.Tx, id int64, read []store.AnfrageEntry) error {
	now, err := store.AnfrageEntries(ctx, tx, id)
	if err != nil {
		return err
	}
	same := len(now) == len(read)
	for i := 0; same && i < len(now); i++ {
		same = now[i].ID == read[i].ID
	}
	if !same {
		return fault.Conflictf("Anfrage %d changed while it was being sent; send it again", id)
	}
	return nil
}

// claimPoll is how often a sender looks again at an anfrage another sender
// holds a claim on.
const claimPoll = 25 * time.Millisecond

// claimSend claims anfrage id for this send, in a transaction that checks
// it is still sendable. While another sender holds a claim it waits (with
// no connection held) for that claim to end, then decides again: the
// anfrage is sent by then (400), or the other send failed and this one goes
// ahead. A caller that hangs up while waiting ends the wait.
func (s *Service) claimSend(ctx context.Context, id int64, entries []store.AnfrageEntry) (store.Claim, error) {
	for {
		var (
			claim   store.Claim
			claimed bool
		)
		_, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
			locked, err := store.LockAnfrage(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			if err := checkSendable(locked); err != nil {
				return nil, err
			}
			if err := checkUnchanged(ctx, tx, id, entries); err != nil {
				return nil, err
			}
			claim, claimed, err = store.ClaimAnfrage(ctx, tx, id, s.cfg.ClaimTTL)
			return nil, err
		})
		if err != nil || claimed {
			return claim, err
		}
		t := time.NewTimer(claimPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return store.Claim{}, fault.Unavailablef("Anfrage %d is being sent by another request", id).Wrap(ctx.Err())
		case <-t.C:
		}
	}
}

// communicate asks the communication service for the anfrage's email, or
// for a phone call when the therapist has no address, holding no
// transaction. After an earlier claim that recorded nothing it first looks
// for what that attempt may have created, and adopts it.
func (s *Service) communicate(ctx context.Context, claim store.Claim, t neighbours.Therapist, patients []matching.Patient, id int64, today time.Time) (Sent, error) {
	res := Sent{AnfrageID: id}
	if letter := Letter(t, patients, id, today); letter.EmpfaengerEmail != "" {
		res.Channel = events.ChannelEmail
		eid, err := s.adoptEmail(ctx, claim, t.ID, letter.Betreff, id)
		if err == nil && eid == 0 {
			letter.Status = emailQueued
			eid, err = s.cfg.Communication.CreateEmail(ctx, letter)
		}
		if err != nil {
			if fault.KindOf(err) == fault.Unavailable {
				return res, err
			}
			return res, sendFailed("Email creation failed", err)
		}
		res.EmailID = &eid
		return res, nil
	}
	res.Channel = events.ChannelPhoneCall
	pid, err := s.adoptPhoneCall(ctx, claim, id)
	if err == nil && pid == 0 {
		day := matching.NextWorkingDay(today)
		pid, err = s.cfg.Communication.CreatePhoneCall(ctx, neighbours.PhoneCall{
			TherapistID:          t.ID,
			TherapeutenanfrageID: id,
			GeplantesDatum:       day.Format("2006-01-02"),
			GeplanteZeit:         matching.CallTime(t.TelefonischeErreichbarkeit, day, s.cfg.Matching.DefaultPhoneCallTime),
			Notizen:              fmt.Sprintf("Follow-up für Anfrage A%d", id),
		})
	}
	if err != nil {
		if fault.KindOf(err) == fault.Unavailable {
			return res, err
		}
		return res, sendFailed("Phone call scheduling failed", err)
	}
	res.PhoneCallID = &pid
	return res, nil
}

// adoptEmail returns the id of the email an earlier attempt created for
// anfrage id (the therapist's email with its subject), or 0. Without an
// earlier attempt it asks nothing.
func (s *Service) adoptEmail(ctx context.Context, claim store.Claim, therapistID int64, subject string, id int64) (int64, error) {
	if !claim.Earlier {
		return 0, nil
	}
	emails, err := s.cfg.Communication.EmailsToTherapist(ctx, therapistID)
	if err != nil {
		return 0, err
	}
	var found int64
	for _, e := range emails {
		if e.Betreff == subject && (found == 0 || e.ID < found) {
			found = e.ID
		}
	}
	if found != 0 {
		s.log.Info("anfrage send: adopting the email an earlier attempt created", "anfrage_id", id, "email_id", found)
	}
	return found, nil
}

// adoptPhoneCall is adoptEmail for the call of an anfrage sent by phone.
func (s *Service) adoptPhoneCall(ctx context.Context, claim store.Claim, id int64) (int64, error) {
	if !claim.Earlier {
		return 0, nil
	}
	calls, err := s.cfg.Communication.PhoneCallsForAnfrage(ctx, id)
	if err != nil {
		return 0, err
	}
	var found int64
	for _, c := range calls {
		if found == 0 || c.ID < found {
			found = c.ID
		}
	}
	if found != 0 {
		s.log.Info("anfrage send: adopting the phone call an earlier attempt created", "anfrage_id", id, "phone_call_id", found)
	}
	return found, nil
}

// recordSend stores the send res under claim (in tx) and returns its
// event. The anfrage may have changed while the service was asked: deleted
// (404), cancelled (409), or taken over by another sender after the claim
// expired (409, or 400 once that one recorded its send); then nothing is
// recorded, and the log names the email or call that now exists without
// its anfrage knowing.
func (s *Service) recordSend(ctx context.Context, tx pgx.Tx, claim store.Claim, res Sent) ([]events.Outgoing, error) {
	id := res.AnfrageID
	locked, err := store.LockAnfrage(ctx, tx, id)
	if err == nil {
		var held bool
		if held, err = store.FinishClaim(ctx, tx, id, claim.Token); err == nil && !held {
			err = fault.Conflictf("Anfrage %d was taken over by another send while this one waited for the communication service", id)
		}
	}
	if err == nil {
		err = checkSendable(locked)
	}
	if err != nil {
		s.log.Warn("anfrage send: the communication exists but the anfrage was not marked sent",
			"anfrage_id", id, "email_id", res.EmailID, "phone_call_id", res.PhoneCallID, "error", err.Error())
		return nil, err
	}
	var commID int64
	switch {
	case res.EmailID != nil:
		commID = *res.EmailID
	case res.PhoneCallID != nil:
		commID = *res.PhoneCallID
	default:
		return nil, fmt.Errorf("anfrage send: the communication service answered without an email or phone call id")
	}
	if err := store.MarkSent(ctx, tx, id, res.EmailID, res.PhoneCallID, res.SentAt); err != nil {
		return nil, err
	}
	return []events.Outgoing{events.NewAnfrageSent(events.AnfrageSentData{
		AnfrageID: id, CommunicationType: res.Channel, CommunicationID: commID,
	})}, nil
}

// StoreLetterPeople keeps, on anfrage id, the patients (in position order)
// as its letter shows them on today (matching.LetterPeople), in the
// transaction that records the send: the reply is read against them.
func StoreLetterPeople(ctx context.Context, db store.DB, id int64, patients []matching.Patient, today time.Time) error {
	raw, err := json.Marshal(matching.LetterPeople(patients, today))
	if err != nil {
		return err
	}
	return store.SetLetterPeople(ctx, db, id, raw)
}
