package placement

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/store"
)

// PatientOutcome is the therapist's answer for one patient of an anfrage.
type PatientOutcome struct {
	PatientID int64
	Outcome   string // one of matching.Outcomes
}

// Note is a line for the notes of an anfrage.
type Note struct {
	// Text is the line; nothing is written when it is empty.
	Text string
	// Author is shown in the line's stamp (matching.AuthorSystem, …); ""
	// for none.
	Author string
}

// Response is a therapist's response to an anfrage: one outcome for each
// of its patients.
type Response struct {
	// Outcomes are checked in the given order; the first unknown outcome is
	// the one reported.
	Outcomes []PatientOutcome
	// Note is added to the anfrage's notes with the response.
	Note Note
	// Unreadable, when set, refuses the response with this error after the
	// anfrage's own checks (unknown 404, unsent 400), which is where the
	// reference refuses an entry it cannot read. The API sets it for a
	// patient key that is not an integer or an outcome that is not one of
	// matching.Outcomes (InvalidOutcome); callers that build Outcomes
	// themselves leave it nil.
	Unreadable error
}

// InvalidOutcome is the 400 of a response entry that names no patient id or
// no outcome, showing both as the caller gave them.
func InvalidOutcome(patient, outcome string) error {
	return fault.Invalidf("Invalid patient response: %s -> %s", patient, outcome).With("valid_outcomes", matching.Outcomes)
}

// AcceptedPatient is a patient the therapist accepted (angenommen or
// in_Sitzungen), with the search that thereby succeeded.
type AcceptedPatient struct {
	PatientID int64
	SearchID  int64
}

// ResponseRecorded is the response an anfrage holds after RecordResponse.
type ResponseRecorded struct {
	AnfrageID   int64
	TherapistID int64
	// Summary holds the counts and the response type (matching.Classify).
	Summary matching.Summary
	// Accepted lists the accepted patients in position order.
	Accepted []AcceptedPatient
	// CoolingUntil is the date (YYYY-MM-DD) from which the therapist may be
	// contacted again, as the response set it; "" for a repeat.
	CoolingUntil string
	// Repeated is true when the anfrage already held this very response:
	// the anfrage did not change and nothing was emitted (only replies
	// waiting for review were settled).
	Repeated bool
}

// RecordResponse records a therapist's response to anfrage id. Everything
// happens in one transaction under the anfrage's row lock: the outcomes and
// counts, the note, the exclusions of abgelehnt_nicht_geeignet and
// nicht_erschienen, the accepted searches becoming erfolgreich (also from
// pausiert), the cooling period, and the events response_received,
// cooling.period_started and search.status_changed. After the commit the
// cooling date is written back to the therapist service when
// THERAPIST_COOLING_WRITEBACK is on. The email replies to the anfrage still
// waiting for review (antwort_vorschlag offen) become uebernommen: the
// response a clerk records, also the same response again, settles them.
//
// Errors, in the order they are checked: 404 unknown anfrage; 400 unsent;
// r.Unreadable; 400 for an unknown outcome (InvalidOutcome); 400 "Missing
// responses for some patients" with missing_patient_ids; 400 "Responses
// provided for patients not in anfrage" with extra_patient_ids; 409
// "Response already recorded for anfrage {id}" when it holds a different
// response. The same response again is not an error: the result is the
// stored one with Repeated set.
func (s *Service) RecordResponse(ctx context.Context, id int64, r Response) (ResponseRecorded, error) {
	now := s.now()
	var res ResponseRecorded
	ids, err := s.transact(ctx, func(tx pgx.Tx) ([]events.Outgoing, error) {
		var out []events.Outgoing
		var err error
		res, out, err = s.recordResponse(ctx, tx, id, r, now)
		return out, err
	})
	if err != nil {
		return ResponseRecorded{}, err
	}
	if !res.Repeated {
		s.logLifecycle(ctx, "anfrage response recorded", events.AnfrageResponseReceived, id, ids,
			slog.Int64("therapist_id", res.TherapistID), slog.Any("response_type", res.Summary.Type))
	}
	s.publish(ctx, ids)
	if res.CoolingUntil != "" {
		s.writeBackCooling(ctx, res.TherapistID, res.CoolingUntil)
	}
	return res, nil
}

// recordResponse is RecordResponse's work inside tx: it returns the result
// and the events to emit. It leaves the transaction, the outbox and what
// follows the commit to its caller, so that a caller running in a
// transaction of its own (an inbox route: the reply's processed_events row
// must commit with the response) can share it.
func (s *Service) recordResponse(ctx context.Context, tx pgx.Tx, id int64, r Response, now time.Time) (ResponseRecorded, []events.Outgoing, error) {
	a, err := store.LockAnfrage(ctx, tx, id)
	if err != nil {
		return ResponseRecorded{}, nil, err
	}
	if a.SentAt == nil {
		return ResponseRecorded{}, nil, fault.Invalidf("Cannot record response for unsent anfrage")
	}
	if r.Unreadable != nil {
		return ResponseRecorded{}, nil, r.Unreadable
	}
	for _, o := range r.Outcomes {
		if !matching.IsOutcome(o.Outcome) {
			return ResponseRecorded{}, nil, InvalidOutcome(strconv.FormatInt(o.PatientID, 10), o.Outcome)
		}
	}
	entries, err := store.AnfrageEntries(ctx, tx, id)
	if err != nil {
		return ResponseRecorded{}, nil, err
	}
	given, err := matchResponses(entries, r.Outcomes)
	if err != nil {
		return ResponseRecorded{}, nil, err
	}

	if a.RespondedAt != nil {
		for _, e := range entries {
			if deref(e.Outcome) != given[e.PatientID] {
				return ResponseRecorded{}, nil, fault.Conflictf("Response already recorded for anfrage %d", id)
			}
		}
		// A clerk repeating the stored response confirms it: the replies
		// that came after it no longer wait for review.
		if err := store.TakeSuggestions(ctx, tx, id, now); err != nil {
			return ResponseRecorded{}, nil, err
		}
		res := recorded(a, entries, matching.Summary{Accepted: a.Accepted, Rejected: a.Rejected, NoResponse: a.NoResponse, Type: deref(a.ResponseType)})
		res.Repeated = true
		return res, nil, nil
	}

	outcomes := make([]string, len(entries))
	rows := make([]store.EntryOutcome, len(entries))
	var accepted []int64
	excluded := map[string][]int64{} // outcome → searches that exclude the therapist
	for i, e := range entries {
		o := given[e.PatientID]
		outcomes[i] = o
		rows[i] = store.EntryOutcome{EntryID: e.ID, Outcome: o, Status: matching.RowStatus(o)}
		entries[i].Outcome = &o
		if matching.ExcludesTherapist(o) {
			excluded[o] = append(excluded[o], e.SearchID)
		}
		if matching.Accepted(o) {
			accepted = append(accepted, e.SearchID)
		}
	}
	sum := matching.Classify(outcomes, a.Size)
	resp := store.Response{Type: sum.Type, Accepted: sum.Accepted, Rejected: sum.Rejected, NoResponse: sum.NoResponse}
	if r.Note.Text != "" {
		n := matching.AppendNote(a.Notes, matching.Note(now, r.Note.Author, r.Note.Text))
		resp.Notes = &n
	}
	if err := store.RecordResponse(ctx, tx, id, rows, resp, now); err != nil {
		return ResponseRecorded{}, nil, err
	}
	if err := store.TakeSuggestions(ctx, tx, id, now); err != nil {
		return ResponseRecorded{}, nil, err
	}
	out := []events.Outgoing{events.NewAnfrageResponseReceived(events.AnfrageResponseReceivedData{
		AnfrageID: id, ResponseType: sum.Type,
		AcceptedCount: sum.Accepted, RejectedCount: sum.Rejected, NoResponseCount: sum.NoResponse,
	})}
	for _, o := range matching.Outcomes { // a fixed order for the row locks
		if len(excluded[o]) == 0 {
			continue
		}
		entry, err := json.Marshal(matching.NewExclusionEntry(a.TherapistID, now, matching.ReasonRejectedPrefix+o))
		if err != nil {
			return ResponseRecorded{}, nil, err
		}
		if _, err := store.AddExclusion(ctx, tx, excluded[o], a.TherapistID, entry, now); err != nil {
			return ResponseRecorded{}, nil, err
		}
	}
	cooling, err := store.ExtendCooling(ctx, tx, a.TherapistID,
		matching.CoolingUntil(s.today(now), s.cfg.Matching.CoolingPeriodWeeks), now)
	if err != nil {
		return ResponseRecorded{}, nil, err
	}
	out = append(out, events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{
		TherapistID: a.TherapistID, NextContactableDate: cooling.Date, Reason: events.CoolingResponseReceived,
	}))
	changes, err := store.CompleteSearches(ctx, tx, accepted, now)
	if err != nil {
		return ResponseRecorded{}, nil, err
	}
	for _, c := range changes {
		old := c.OldStatus
		out = append(out, events.NewSearchStatusChanged(events.SearchStatusChangedData{
			SearchID: c.SearchID, PatientID: c.PatientID, OldStatus: &old, NewStatus: c.NewStatus,
		}))
	}
	res := recorded(a, entries, sum)
	res.CoolingUntil = cooling.Date
	return res, out, nil
}

// matchResponses maps each patient of the entries to its outcome; a patient
// of the anfrage without one, or a response for a patient outside it, is 400.
func matchResponses(entries []store.AnfrageEntry, responses []PatientOutcome) (map[int64]string, error) {
	given := make(map[int64]string, len(responses))
	for _, p := range responses {
		given[p.PatientID] = p.Outcome
	}
	inAnfrage := make(map[int64]bool, len(entries))
	missing := []int64{}
	for _, e := range entries {
		inAnfrage[e.PatientID] = true
		if _, ok := given[e.PatientID]; !ok {
			missing = append(missing, e.PatientID)
		}
	}
	if len(missing) > 0 {
		return nil, fault.Invalidf("Missing responses for some patients").With("missing_patient_ids", missing)
	}
	extra := []int64{}
	for _, p := range responses {
		if !inAnfrage[p.PatientID] && !slices.Contains(extra, p.PatientID) {
			extra = append(extra, p.PatientID)
		}
	}
	if len(extra) > 0 {
		return nil, fault.Invalidf("Responses provided for patients not in anfrage").With("extra_patient_ids", extra)
	}
	return given, nil
}

// recorded is the result of anfrage a whose entries hold their outcomes.
func recorded(a store.Anfrage, entries []store.AnfrageEntry, sum matching.Summary) ResponseRecorded {
	res := ResponseRecorded{AnfrageID: a.ID, TherapistID: a.TherapistID, Summary: sum, Accepted: []AcceptedPatient{}}
	for _, e := range entries {
		if e.Outcome != nil && matching.Accepted(*e.Outcome) {
			res.Accepted = append(res.Accepted, AcceptedPatient{PatientID: e.PatientID, SearchID: e.SearchID})
		}
	}
	return res
}
