package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// patientResponse is one entry of patient_responses, in request order.
type patientResponse struct {
	key     string
	value   json.RawMessage
	patient int64
	outcome string
}

// parseResponses reads the patient_responses object keeping its order (the
// reference reports the first invalid entry in request order).
func parseResponses(raw json.RawMessage) ([]patientResponse, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if d, ok := tok.(json.Delim); err != nil || !ok || d != '{' {
		return nil, argError("patient_responses", "Must be a JSON object mapping patient ids to outcomes")
	}
	var out []patientResponse
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fault.Invalidf("Invalid JSON body").Wrap(err)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fault.Invalidf("Invalid JSON body").Wrap(err)
		}
		out = append(out, patientResponse{key: tok.(string), value: v})
	}
	return out, nil
}

// validate checks each entry: an integer key and an outcome name.
func (p *patientResponse) validate() error {
	id, err := strconv.ParseInt(strings.TrimSpace(p.key), 10, 64)
	var outcome string
	if err == nil && json.Unmarshal(p.value, &outcome) == nil && matching.IsOutcome(outcome) {
		p.patient, p.outcome = id, outcome
		return nil
	}
	shown := string(p.value)
	var s string
	if json.Unmarshal(p.value, &s) == nil {
		shown = s
	}
	return fault.Invalidf("Invalid patient response: %s -> %s", p.key, shown).With("valid_outcomes", matching.Outcomes)
}

// PUT /api/therapeutenanfragen/{id}/antwort
//
// Everything happens in one transaction under the anfrage's row lock: the
// outcomes and counts, the exclusions of abgelehnt_nicht_geeignet, the
// accepted searches becoming erfolgreich (also from pausiert), the cooling
// period, and the events response_received, cooling.period_started and
// search.status_changed. A second, different response is 409; the same
// response again is answered 200 with what was stored.
func (s *Server) recordResponse(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	b := readBody(r)
	raw := b.required("patient_responses")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	responses, err := parseResponses(raw)
	if err != nil {
		return 0, nil, err
	}
	notes := b.str("notizen")
	b.boolean("follow_up_required", false) // validated, not used
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	result, err := s.record(r.Context(), id, responses, notes)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, result, nil
}

// record stores a therapist's response to anfrage id and returns the answer
// body; see recordResponse.
func (s *Server) record(ctx context.Context, id int64, responses []patientResponse, notes *string) (map[string]any, error) {
	now := s.now()
	var (
		result    map[string]any
		ids       []string
		coolingTo string
		therapist int64
	)
	err := store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		a, err := store.LockAnfrage(ctx, tx, id)
		if err != nil {
			return err
		}
		if a.SentAt == nil {
			return fault.Invalidf("Cannot record response for unsent anfrage")
		}
		for i := range responses {
			if err := responses[i].validate(); err != nil {
				return err
			}
		}
		entries, err := store.AnfrageEntries(ctx, tx, id)
		if err != nil {
			return err
		}
		given, err := matchResponses(entries, responses)
		if err != nil {
			return err
		}

		if a.RespondedAt != nil {
			for _, e := range entries {
				if deref(e.Outcome) != given[e.PatientID] {
					return fault.Conflictf("Response already recorded for anfrage %d", id)
				}
			}
			result = responseBody(id, deref(a.ResponseType), entries,
				matching.Summary{Accepted: a.Accepted, Rejected: a.Rejected, NoResponse: a.NoResponse})
			return nil
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
		if notes != nil && *notes != "" {
			n := matching.AppendNote(a.Notes, matching.Note(now, "", *notes))
			resp.Notes = &n
		}
		if err := store.RecordResponse(ctx, tx, id, rows, resp, now); err != nil {
			return err
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
				return err
			}
			if _, err := store.AddExclusion(ctx, tx, excluded[o], a.TherapistID, entry, now); err != nil {
				return err
			}
		}
		cooling, err := store.ExtendCooling(ctx, tx, a.TherapistID,
			matching.CoolingUntil(s.today(now), s.cfg.Matching.CoolingPeriodWeeks), now)
		if err != nil {
			return err
		}
		coolingTo, therapist = cooling.Date, a.TherapistID
		out = append(out, events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{
			TherapistID: a.TherapistID, NextContactableDate: cooling.Date, Reason: events.CoolingResponseReceived,
		}))
		changes, err := store.CompleteSearches(ctx, tx, accepted, now)
		if err != nil {
			return err
		}
		for _, c := range changes {
			old := c.OldStatus
			out = append(out, events.NewSearchStatusChanged(events.SearchStatusChangedData{
				SearchID: c.SearchID, PatientID: c.PatientID, OldStatus: &old, NewStatus: c.NewStatus,
			}))
		}
		if ids, err = outbox.Add(ctx, tx, out...); err != nil {
			return err
		}
		result = responseBody(id, sum.Type, entries, sum)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ids) > 0 { // not for a repeated response, which changed nothing
		s.logLifecycle(ctx, "anfrage response recorded", events.AnfrageResponseReceived, id, ids,
			slog.Int64("therapist_id", therapist), slog.Any("response_type", result["response_type"]))
	}
	s.publish(ctx, ids)
	if coolingTo != "" {
		s.writeBackCooling(ctx, therapist, coolingTo)
	}
	return result, nil
}

// matchResponses maps each patient of the entries to its outcome; a patient
// of the anfrage without one, or a response for a patient outside it, is 400.
func matchResponses(entries []store.AnfrageEntry, responses []patientResponse) (map[int64]string, error) {
	given := make(map[int64]string, len(responses))
	for _, p := range responses {
		given[p.patient] = p.outcome
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
		if !inAnfrage[p.patient] && !slices.Contains(extra, p.patient) {
			extra = append(extra, p.patient)
		}
	}
	if len(extra) > 0 {
		return nil, fault.Invalidf("Responses provided for patients not in anfrage").With("extra_patient_ids", extra)
	}
	return given, nil
}

type acceptedPatient struct {
	PatientID    int64 `json:"patient_id"`
	PlatzsucheID int64 `json:"platzsuche_id"`
}

// responseBody is the 200 answer of a recorded response.
func responseBody(id int64, responseType string, entries []store.AnfrageEntry, sum matching.Summary) map[string]any {
	accepted := []acceptedPatient{}
	for _, e := range entries {
		if e.Outcome != nil && matching.Accepted(*e.Outcome) {
			accepted = append(accepted, acceptedPatient{PatientID: e.PatientID, PlatzsucheID: e.SearchID})
		}
	}
	return map[string]any{
		"message":               "Anfrage response recorded successfully",
		"anfrage_id":            id,
		"response_type":         responseType,
		"angenommene_patienten": accepted,
		"antwort_zusammenfassung": map[string]int{
			"accepted":    sum.Accepted,
			"rejected":    sum.Rejected,
			"no_response": sum.NoResponse,
		},
	}
}
