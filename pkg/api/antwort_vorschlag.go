package api

import (
	"net/http"
	"strconv"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// suggestionJSON is the reading of a therapist's email reply
// (enhancements B4): the decided patients' outcomes, ready for PUT …/antwort
// once unklar is empty, the undecided patients, whether it is (or would be)
// recorded without a clerk, whether it is an automatic reply, and the
// sentence behind each reading.
type suggestionJSON struct {
	AnfrageID           *int64            `json:"anfrage_id"`
	PatientResponses    map[string]string `json:"patient_responses"`
	Unklar              []int64           `json:"unklar"`
	Automatisch         bool              `json:"automatisch"`
	AutomatischeAntwort bool              `json:"automatische_antwort"`
	Belege              map[string]string `json:"belege"`
}

// storedSuggestionJSON is a reply as it was received and stored: the
// suggestion, and around it the review's fields. anfrage_id is null for a
// reply no anfrage could be found for; grund says why a clerk must look at
// it (null when it was recorded automatically); status is offen until the
// anfrage's response is recorded, then uebernommen.
type storedSuggestionJSON struct {
	ID int64 `json:"id"`
	suggestionJSON
	Status        string  `json:"status"`
	Grund         *string `json:"grund"`
	TherapistID   *int64  `json:"therapist_id"`
	EmailID       int64   `json:"email_id"`
	Betreff       string  `json:"betreff"`
	Absender      string  `json:"absender"`
	EmpfangenAm   string  `json:"empfangen_am"`
	Inhalt        string  `json:"inhalt"`
	ErstelltAm    string  `json:"erstellt_am"`
	UebernommenAm *string `json:"uebernommen_am"`
}

func analysedJSON(sg placement.Suggestion) suggestionJSON {
	out := suggestionJSON{PatientResponses: map[string]string{}, Unklar: sg.Unclear, Belege: map[string]string{},
		Automatisch: sg.Automatic, AutomatischeAntwort: sg.AutoReply}
	if sg.AnfrageID > 0 {
		out.AnfrageID = &sg.AnfrageID
	}
	if out.Unklar == nil {
		out.Unklar = []int64{}
	}
	for _, o := range sg.Responses {
		out.PatientResponses[strconv.FormatInt(o.PatientID, 10)] = o.Outcome
	}
	for id, e := range sg.Evidence {
		out.Belege[strconv.FormatInt(id, 10)] = e
	}
	return out
}

func storedJSON(v store.Suggestion) storedSuggestionJSON {
	return storedSuggestionJSON{
		ID: v.ID,
		suggestionJSON: suggestionJSON{AnfrageID: v.AnfrageID, PatientResponses: v.Responses, Unklar: v.Unclear,
			Automatisch: v.Automatic, AutomatischeAntwort: v.AutoReply, Belege: v.Evidence},
		Status: v.Status, Grund: v.Reason, TherapistID: v.TherapistID, EmailID: v.EmailID,
		Betreff: v.Subject, Absender: v.From, EmpfangenAm: v.ReceivedAt, Inhalt: v.Body,
		ErstelltAm:    matching.FormatTimestamp(v.CreatedAt),
		UebernommenAm: matching.FormatTimestampPtr(v.TakenAt),
	}
}

// POST /api/therapeutenanfragen/{id}/antwort-analyse reads a reply a clerk
// pastes ({"subject", "body"}; body required) as an answer to the anfrage
// and returns the suggestion, changing nothing (placement.AnalyseReply).
func (s *Server) analyseReply(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	b := readBody(r)
	body := b.requiredStr("body")
	subject := b.str("subject")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	sg, err := s.uc.AnalyseReply(r.Context(), id, placement.Reply{Subject: deref(subject), Body: body})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, analysedJSON(sg), nil
}

// GET /api/therapeutenanfragen/{id}/antwort-vorschlag is the stored
// suggestion of the last reply to the anfrage; 404 for an unknown anfrage
// and for one without a reply.
func (s *Server) getReplySuggestion(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if _, err := store.GetAnfrage(r.Context(), s.cfg.Pool, id); err != nil {
		return 0, nil, err
	}
	v, err := store.LatestSuggestion(r.Context(), s.cfg.Pool, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, storedJSON(v), nil
}

// GET /api/antwort-vorschlaege?status=offen|uebernommen is the review list:
// the stored replies, unassigned ones included, oldest first, paged like
// the other lists.
func (s *Server) listReplySuggestions(r *http.Request) (int, any, error) {
	q := readQuery(r)
	var status *string
	switch v := q.Get("status"); v {
	case "":
	case store.SuggestionOpen, store.SuggestionTaken:
		status = &v
	default:
		q.fail(fault.Invalidf("Invalid status. Use 'offen' or 'uebernommen'"))
	}
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	page, limit := q.pagination()
	list, total, err := store.ListSuggestions(r.Context(), s.cfg.Pool, status, limit, offset(page, limit))
	if err != nil {
		return 0, nil, err
	}
	data := make([]storedSuggestionJSON, len(list))
	for i, v := range list {
		data[i] = storedJSON(v)
	}
	return http.StatusOK, map[string]any{"data": data, "page": page, "limit": limit, "total": total}, nil
}
