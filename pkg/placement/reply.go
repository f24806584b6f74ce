package placement

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/replies"
	"github.com/curavani/matching/pkg/store"
)

// The notes an anfrage gets from a therapist's email reply (enhancements B3).
const (
	ReplyAppliedNote = "Antwort automatisch aus E-Mail übernommen"
	ReplyReviewNote  = "E-Mail-Antwort eingegangen, bitte prüfen"
)

// Why a reply waits for a clerk instead of being recorded (Suggestion.Reason),
// in the order they are checked.
const (
	// ReasonUnassigned: neither the email nor a reference in the reply
	// names an anfrage.
	ReasonUnassigned = "nicht_zugeordnet"
	// ReasonAutoReply: an out-of-office note, auto-reply, delivery or read
	// notice.
	ReasonAutoReply = "automatische_antwort"
	// ReasonAnswered: the anfrage already holds a response, which a reply
	// never overwrites.
	ReasonAnswered = "bereits_beantwortet"
	// ReasonNotOpen: the anfrage is unsent or cancelled.
	ReasonNotOpen = "nicht_offen"
	// ReasonReferenceOnly: the anfrage was found by the reference the reply
	// quotes, not by the email it answers; a mistyped reference must not
	// put outcomes on another anfrage's patients.
	ReasonReferenceOnly = "nur_referenz"
	// ReasonOtherReference: the reply answers the email of one anfrage but
	// names another.
	ReasonOtherReference = "referenz_abweichend"
	// ReasonUndecided: the reply leaves a patient undecided.
	ReasonUndecided = "unklar"
)

// Reply is a therapist's email reply: received by the communication service
// (ReceiveReply) or pasted by a clerk (AnalyseReply).
type Reply struct {
	// EmailID is the email the reply answers; 0 for a pasted reply.
	EmailID int64
	// TherapistID is the therapist the communication service names; 0
	// when it names none.
	TherapistID int64
	Subject     string
	Body        string
	From        string
	ReceivedAt  string
}

// Suggestion is what a reply says about the patients of its anfrage, as a
// clerk would record it (enhancements B2, B4).
type Suggestion struct {
	// AnfrageID is 0 when no anfrage could be found for the reply.
	AnfrageID   int64
	TherapistID int64
	// Responses are the decided patients of the anfrage, in position
	// order: as they are, the body of PUT …/antwort once Unclear is empty.
	Responses []PatientOutcome
	// Unclear are the patients the reply leaves undecided, in position
	// order.
	Unclear []int64
	// Evidence is, per patient, the sentence of the reply that decided
	// (or, undecided, left open) the outcome, when there is one.
	Evidence map[int64]string
	// Automatic is true when the reply is (or, analysed, would be)
	// recorded without a clerk: every patient decided, not an automatic
	// reply, the anfrage sent, open and found by the email the reply
	// answers.
	Automatic bool
	// AutoReply is true for an automatic reply (out-of-office and the
	// like).
	AutoReply bool
	// Reason says why the reply is not Automatic (Reason… constants); ""
	// when it is.
	Reason string
}

// AnalyseReply reads r as an answer to anfrage id and returns the
// suggestion, changing nothing: what ReceiveReply would decide if r came
// as a reply to the anfrage's email now. 404 for an unknown anfrage.
func (s *Service) AnalyseReply(ctx context.Context, id int64, r Reply) (Suggestion, error) {
	a, err := store.GetAnfrage(ctx, s.cfg.Pool, id)
	if err != nil {
		return Suggestion{}, err
	}
	return suggest(ctx, s.cfg.Pool, a, r, viaEmail)
}

// ReplyReceived is what ReceiveReply did with a reply.
type ReplyReceived struct {
	Suggestion
	// SuggestionID is the stored suggestion's id.
	SuggestionID int64
	// Duplicate is true when this reply to this email was received
	// before: nothing was done.
	Duplicate bool
	// Recorded is the anfrage's response when the reply was recorded
	// (Suggestion.Automatic).
	Recorded *ResponseRecorded
}

// ReceiveReply handles a therapist's email reply inside the caller's
// transaction tx (the inbox's, so that the event's processed_events row,
// the reply and everything it causes commit together) and returns the
// events to emit; the caller writes them to the outbox and calls
// ReplyCommitted after the commit.
//
// The anfrage is the one whose email the reply answers, else the one whose
// reference the reply names (Ref: A123), else none. Its row is locked for
// the rest of the transaction, as PUT …/antwort locks it. The reply is read
// against the people its letter showed (replies.Parse). When every patient
// is decided and nothing else stands in the way (see Suggestion.Automatic),
// the outcomes are recorded exactly as PUT …/antwort records them (the same
// code: outcomes, counts, exclusions, searches, cooling, response_received
// and the other events) with the note ReplyAppliedNote. Otherwise nothing is
// recorded: the anfrage gets the note ReplyReviewNote and
// therapeutenanfrage.response_review_needed is emitted (a reply without an
// anfrage emits nothing; it waits in the review list). Either way the
// suggestion is stored (antwort_vorschlag), once per email and reply
// content: the same reply delivered again, also under a new event id,
// changes nothing (Duplicate).
func (s *Service) ReceiveReply(ctx context.Context, tx pgx.Tx, r Reply, at time.Time) (ReplyReceived, []events.Outgoing, error) {
	a, via, err := findReplyAnfrage(ctx, tx, r)
	if err != nil {
		return ReplyReceived{}, nil, err
	}
	var sg Suggestion
	if a == nil {
		res := replies.Parse(nil, replyOf(r))
		sg = Suggestion{TherapistID: r.TherapistID, AutoReply: res.Automatic, Reason: ReasonUnassigned}
	} else if sg, err = suggest(ctx, tx, *a, r, via); err != nil {
		return ReplyReceived{}, nil, err
	}
	id, inserted, err := store.InsertSuggestion(ctx, tx, suggestionRow(r, sg), at)
	if err != nil || !inserted {
		return ReplyReceived{Duplicate: !inserted}, nil, err
	}
	out := ReplyReceived{Suggestion: sg, SuggestionID: id}
	if sg.Automatic {
		rec, evs, err := s.recordResponse(ctx, tx, a.ID, Response{
			Outcomes: sg.Responses, Note: Note{Text: ReplyAppliedNote, Author: matching.AuthorSystem},
		}, at)
		if err != nil {
			return ReplyReceived{}, nil, err
		}
		out.Recorded = &rec
		return out, evs, nil
	}
	if a == nil {
		return out, nil, nil // it waits in the review list, unassigned
	}
	if err := store.NoteAnfrage(ctx, tx, a.ID, matching.Note(at, matching.AuthorSystem, ReplyReviewNote)); err != nil {
		return ReplyReceived{}, nil, err
	}
	return out, []events.Outgoing{events.NewAnfrageReviewNeeded(events.AnfrageReviewNeededData{
		AnfrageID: a.ID, TherapistID: a.TherapistID, EmailID: r.EmailID, UndecidedPatientIDs: sg.Unclear,
	})}, nil
}

// ReplyCommitted does what follows the commit of ReceiveReply's
// transaction: the cooling date of a recorded response goes to the
// therapist service (THERAPIST_COOLING_WRITEBACK), as after PUT …/antwort.
func (s *Service) ReplyCommitted(ctx context.Context, r ReplyReceived) {
	if r.Recorded != nil && r.Recorded.CoolingUntil != "" {
		s.writeBackCooling(ctx, r.Recorded.TherapistID, r.Recorded.CoolingUntil)
	}
}

// How a reply's anfrage was found.
type replyVia int

const (
	viaEmail replyVia = iota
	viaReference
)

// findReplyAnfrage finds and locks the anfrage of reply r: the one whose
// email r answers, else the one r's reference names; nil when neither
// exists.
func findReplyAnfrage(ctx context.Context, tx pgx.Tx, r Reply) (*store.Anfrage, replyVia, error) {
	if r.EmailID > 0 {
		a, ok, err := store.LockAnfrageByEmail(ctx, tx, r.EmailID)
		if err != nil || ok {
			return &a, viaEmail, err
		}
	}
	ref := replies.Parse(nil, replyOf(r)).Reference
	if ref <= 0 || ref > math.MaxInt32 {
		return nil, viaReference, nil
	}
	a, err := store.LockAnfrage(ctx, tx, ref)
	if fault.KindOf(err) == fault.NotFound {
		return nil, viaReference, nil
	}
	if err != nil {
		return nil, viaReference, err
	}
	return &a, viaReference, nil
}

// suggest reads r against anfrage a, found via via: per patient of the
// anfrage the outcome or undecided, and whether it may be recorded as it
// is.
func suggest(ctx context.Context, db store.DB, a store.Anfrage, r Reply, via replyVia) (Suggestion, error) {
	entries, err := store.AnfrageEntries(ctx, db, a.ID)
	if err != nil {
		return Suggestion{}, err
	}
	people, err := replyPeople(ctx, db, a.ID, entries)
	if err != nil {
		return Suggestion{}, err
	}
	res := replies.Parse(people, replyOf(r))
	decided := make(map[int64]replies.Decision, len(res.Decisions))
	for _, d := range res.Decisions {
		decided[d.PatientID] = d
	}
	sg := Suggestion{AnfrageID: a.ID, TherapistID: a.TherapistID, Unclear: []int64{},
		Evidence: map[int64]string{}, AutoReply: res.Automatic}
	for _, e := range entries {
		d, ok := decided[e.PatientID]
		if ok && d.Outcome != "" {
			sg.Responses = append(sg.Responses, PatientOutcome{PatientID: e.PatientID, Outcome: d.Outcome})
		} else {
			sg.Unclear = append(sg.Unclear, e.PatientID)
		}
		if ok && d.Evidence != "" {
			sg.Evidence[e.PatientID] = d.Evidence
		}
	}
	switch {
	case res.Automatic:
		sg.Reason = ReasonAutoReply
	case a.RespondedAt != nil:
		sg.Reason = ReasonAnswered
	case a.SentAt == nil || a.CancelledAt != nil:
		sg.Reason = ReasonNotOpen
	case via == viaReference:
		sg.Reason = ReasonReferenceOnly
	case res.Reference != 0 && res.Reference != a.ID:
		sg.Reason = ReasonOtherReference
	case len(sg.Unclear) > 0 || len(entries) == 0:
		sg.Reason = ReasonUndecided
	}
	sg.Automatic = sg.Reason == ""
	return sg, nil
}

// replyPeople are the people a reply to anfrage id is read against: as its
// letter showed them, with the Person numbers of the letter (a patient who
// left the anfrage since stays among them, so that "die anderen beiden"
// still means who it meant). An anfrage sent before the letter's people
// were kept has only its entries' Person numbers and Patienten-IDs: a
// reply that describes people by age or symptom then leaves them
// undecided.
func replyPeople(ctx context.Context, db store.DB, id int64, entries []store.AnfrageEntry) ([]replies.Person, error) {
	raw, err := store.LetterPeople(ctx, db, id)
	if err != nil {
		return nil, err
	}
	var letter []matching.LetterPerson
	if len(raw) > 0 && json.Unmarshal(raw, &letter) == nil && len(letter) > 0 {
		out := make([]replies.Person, len(letter))
		for i, p := range letter {
			out[i] = replies.Person{Number: p.Person, PatientID: p.PatientID, Geschlecht: p.Geschlecht,
				Alter: p.Alter, Symptome: p.Symptome, Krankenkasse: p.Krankenkasse}
		}
		return out, nil
	}
	out := make([]replies.Person, len(entries))
	for i, e := range entries {
		out[i] = replies.Person{Number: e.Position, PatientID: e.PatientID}
	}
	return out, nil
}

func replyOf(r Reply) replies.Reply {
	return replies.Reply{Subject: r.Subject, Body: r.Body, From: r.From}
}

// replyHash identifies a reply's content: its subject and body.
func replyHash(r Reply) string {
	h := sha256.New()
	h.Write([]byte(r.Subject))
	h.Write([]byte{0})
	h.Write([]byte(r.Body))
	return hex.EncodeToString(h.Sum(nil))
}

// suggestionRow is the antwort_vorschlag row of reply r read as sg.
func suggestionRow(r Reply, sg Suggestion) store.Suggestion {
	row := store.Suggestion{
		EmailID: r.EmailID, Hash: replyHash(r), Status: store.SuggestionOpen,
		Automatic: sg.Automatic, AutoReply: sg.AutoReply,
		Responses: map[string]string{}, Unclear: sg.Unclear, Evidence: map[string]string{},
		Subject: r.Subject, Body: r.Body, From: r.From, ReceivedAt: r.ReceivedAt,
	}
	if sg.Automatic {
		row.Status = store.SuggestionTaken
	} else {
		row.Reason = &sg.Reason
	}
	if sg.AnfrageID > 0 {
		row.AnfrageID = &sg.AnfrageID
	}
	if sg.TherapistID > 0 {
		row.TherapistID = &sg.TherapistID
	}
	for _, o := range sg.Responses {
		row.Responses[strconv.FormatInt(o.PatientID, 10)] = o.Outcome
	}
	for id, e := range sg.Evidence {
		row.Evidence[strconv.FormatInt(id, 10)] = e
	}
	return row
}
