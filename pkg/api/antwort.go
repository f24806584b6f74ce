package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
)

// patientResponse is one entry of patient_responses, in request order.
type patientResponse struct {
	key   string
	value json.RawMessage
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

// outcome reads an entry as a patient id and an outcome name; otherwise it
// is the reference's 400, showing the key and value as given.
func (p patientResponse) outcome() (placement.PatientOutcome, error) {
	id, err := strconv.ParseInt(strings.TrimSpace(p.key), 10, 64)
	var outcome string
	if err == nil && json.Unmarshal(p.value, &outcome) == nil && matching.IsOutcome(outcome) {
		return placement.PatientOutcome{PatientID: id, Outcome: outcome}, nil
	}
	shown := string(p.value)
	var s string
	if json.Unmarshal(p.value, &s) == nil {
		shown = s
	}
	return placement.PatientOutcome{}, placement.InvalidOutcome(p.key, shown)
}

// PUT /api/therapeutenanfragen/{id}/antwort records the therapist's
// response (placement.RecordResponse). A second, different response is
// 409; the same response again is answered 200 with what was stored.
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
	entries, err := parseResponses(raw)
	if err != nil {
		return 0, nil, err
	}
	notes := b.str("notizen")
	b.boolean("follow_up_required", false) // validated, not used
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	resp := placement.Response{Note: placement.Note{Text: deref(notes)}}
	for _, e := range entries {
		o, err := e.outcome()
		if err != nil {
			resp.Unreadable = err
			break
		}
		resp.Outcomes = append(resp.Outcomes, o)
	}
	res, err := s.uc.RecordResponse(r.Context(), id, resp)
	if err != nil {
		return 0, nil, err
	}
	accepted := make([]acceptedPatient, len(res.Accepted))
	for i, a := range res.Accepted {
		accepted[i] = acceptedPatient{PatientID: a.PatientID, PlatzsucheID: a.SearchID}
	}
	return http.StatusOK, map[string]any{
		"message":               "Anfrage response recorded successfully",
		"anfrage_id":            res.AnfrageID,
		"response_type":         res.Summary.Type,
		"angenommene_patienten": accepted,
		"antwort_zusammenfassung": map[string]int{
			"accepted":    res.Summary.Accepted,
			"rejected":    res.Summary.Rejected,
			"no_response": res.Summary.NoResponse,
		},
	}, nil
}

type acceptedPatient struct {
	PatientID    int64 `json:"patient_id"`
	PlatzsucheID int64 `json:"platzsuche_id"`
}
