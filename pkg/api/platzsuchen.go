package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"

	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

type searchListItem struct {
	ID                       int64   `json:"id"`
	PatientID                int64   `json:"patient_id"`
	PatientenName            string  `json:"patienten_name"`
	Status                   string  `json:"status"`
	CreatedAt                string  `json:"created_at"`
	UpdatedAt                *string `json:"updated_at"`
	AktiveAnfragen           int     `json:"aktive_anfragen"`
	GesamtAnfragen           int     `json:"gesamt_anfragen"`
	AusgeschlosseneAnzahl    int     `json:"ausgeschlossene_therapeuten_anzahl"`
	OffenFuerGruppentherapie bool    `json:"offen_fuer_gruppentherapie"`
	Prioritaet               int     `json:"prioritaet"`
}

// GET /api/platzsuchen
func (s *Server) listSearches(r *http.Request) (int, any, error) {
	q := readQuery(r)
	var f store.SearchFilter
	if st := q.Get("status"); st != "" {
		if !matching.IsValidStatus(st) {
			q.fail(placement.InvalidStatus(st))
		}
		f.Status = &st
	}
	f.PatientID = q.integer("patient_id")
	f.MinAnfragen = q.count("min_anfragen")
	f.MaxAnfragen = q.count("max_anfragen")
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	page, limit := q.pagination()
	f.Limit, f.Offset = limit, offset(page, limit)
	searches, total, err := store.ListSearches(r.Context(), s.cfg.Pool, f)
	if err != nil {
		return 0, nil, err
	}
	patients, err := s.patients(r.Context(), idsOf(searches, func(x store.Search) int64 { return x.PatientID }))
	if err != nil {
		return 0, nil, err
	}
	data := make([]searchListItem, 0, len(searches))
	for _, x := range searches {
		p, found := patients[x.PatientID]
		data = append(data, searchListItem{
			ID: x.ID, PatientID: x.PatientID,
			PatientenName:            fullName(p.Vorname, p.Nachname, found),
			Status:                   x.Status,
			CreatedAt:                matching.FormatTimestamp(x.CreatedAt),
			UpdatedAt:                matching.FormatTimestampPtr(x.UpdatedAt),
			AktiveAnfragen:           x.ActiveAnfragen,
			GesamtAnfragen:           x.TotalAnfragen,
			AusgeschlosseneAnzahl:    x.ExclusionListLength,
			OffenFuerGruppentherapie: found && p.OffenFuerGruppentherapie != nil && *p.OffenFuerGruppentherapie,
			Prioritaet:               x.Priority,
		})
	}
	return http.StatusOK, map[string]any{"data": data, "page": page, "limit": limit, "total": total}, nil
}

type searchHistoryItem struct {
	AnfrageID       int64   `json:"anfrage_id"`
	TherapistID     int64   `json:"therapist_id"`
	TherapeutenName string  `json:"therapeuten_name"`
	Position        int     `json:"position"`
	Status          string  `json:"status"`
	Outcome         *string `json:"outcome"`
	SentDate        *string `json:"sent_date"`
	ResponseDate    *string `json:"response_date"`
}

// GET /api/platzsuchen/{id}[?stand=<RFC 3339>]
func (s *Server) getSearch(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	q := readQuery(r)
	stand := q.instant("stand")
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	x, entries, err := s.readSearch(ctx, id, stand)
	if err != nil {
		return 0, nil, err
	}
	patients, err := s.patients(ctx, []int64{x.PatientID})
	if err != nil {
		return 0, nil, err
	}
	therapists, err := s.therapists(ctx, idsOf(entries, func(e store.SearchEntry) int64 { return e.TherapistID }))
	if err != nil {
		return 0, nil, err
	}
	history := make([]searchHistoryItem, 0, len(entries))
	for _, e := range entries {
		t, found := therapists[e.TherapistID]
		history = append(history, searchHistoryItem{
			AnfrageID: e.AnfrageID, TherapistID: e.TherapistID,
			TherapeutenName: fullName(t.Vorname, t.Nachname, found),
			Position:        e.Position, Status: e.Status, Outcome: e.Outcome,
			SentDate:     matching.FormatTimestampPtr(e.SentAt),
			ResponseDate: matching.FormatTimestampPtr(e.RespondedAt),
		})
	}
	p, found := patients[x.PatientID]
	return http.StatusOK, map[string]any{
		"id":                             x.ID,
		"patient_id":                     x.PatientID,
		"patient":                        rawRecord(p.Raw, found),
		"status":                         x.Status,
		"created_at":                     matching.FormatTimestamp(x.CreatedAt),
		"updated_at":                     matching.FormatTimestampPtr(x.UpdatedAt),
		"ausgeschlossene_therapeuten":    jsonRaw(exclusionsOrEmpty(x.Exclusions)),
		"erfolgreiche_vermittlung_datum": matching.FormatTimestampPtr(x.SuccessfulAt),
		"notizen":                        x.Notes,
		"aktive_anfragen":                x.ActiveAnfragen,
		"gesamt_anfragen":                x.TotalAnfragen,
		"anfrage_verlauf":                history,
		"prioritaet":                     x.Priority,
	}, nil
}

func exclusionsOrEmpty(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("[]")
	}
	return raw
}

// POST /api/platzsuchen
func (s *Server) createSearch(r *http.Request) (int, any, error) {
	b := readBody(r)
	patientID := b.requiredInt("patient_id")
	notes := b.str("notizen")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	created, err := s.uc.CreateSearch(r.Context(), placement.NewSearch{PatientID: patientID, Notes: deref(notes)})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{
		"id":         created.ID,
		"patient_id": created.PatientID,
		"status":     created.Status,
		"created_at": matching.FormatTimestamp(created.CreatedAt),
		"message":    "Patient search created successfully",
	}, nil
}

// PUT /api/platzsuchen/{id}
func (s *Server) updateSearch(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	b := readBody(r)
	status := b.str("status")
	notes := b.str("notizen")
	exclusions := b.present("ausgeschlossene_therapeuten")
	priority := priorityArg(b)
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	change := placement.SearchChange{Status: deref(status), Notes: notes, Exclusions: exclusions, Priority: priority}
	if err := s.uc.UpdateSearch(r.Context(), id, change); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"message": "Patient search updated successfully", "id": id}, nil
}

// priorityArg reads the optional prioritaet of a search (enhancements A4):
// an integer as the other int arguments are read, within the column's range
// but for its lowest value, whose negation (the queue's index) does not fit.
func priorityArg(b *body) *int {
	v := b.present("prioritaet")
	if v == nil || b.failed != nil {
		return nil
	}
	n, err := parseInt("prioritaet", v)
	if err == nil && (n < -math.MaxInt32 || n > math.MaxInt32) {
		err = argError("prioritaet", fmt.Sprintf("%d is out of range: must be between %d and %d", n, -math.MaxInt32, math.MaxInt32))
	}
	b.fail(err)
	p := int(n)
	return &p
}

// DELETE /api/platzsuchen/{id}
func (s *Server) deleteSearch(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := s.uc.DeleteSearch(r.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"message": "Patient search deleted successfully"}, nil
}

// POST /api/platzsuchen/{id}/kontaktanfrage (legacy)
func (s *Server) requestContacts(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	b := readBody(r)
	count := b.requiredInt("requested_count")
	notes := b.str("notizen")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	c, err := s.uc.RequestContacts(r.Context(), id, placement.ContactRequest{Count: count, Notes: deref(notes)})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"message":        fmt.Sprintf("Requested %d additional contacts", count),
		"previous_total": c.Before,
		"new_total":      c.After,
		"search_id":      id,
	}, nil
}
