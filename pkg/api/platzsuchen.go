package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// Limits of the legacy Kontaktanfrage.
const maxRequestedContacts = 100

func invalidStatus(s string) error {
	return fault.Invalidf("Invalid status '%s'. Valid values: %s", s, matching.ValidStatusesText())
}

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
}

// GET /api/platzsuchen
func (s *Server) listSearches(r *http.Request) (int, any, error) {
	q := readQuery(r)
	var f store.SearchFilter
	if st := q.Get("status"); st != "" {
		if !matching.IsValidStatus(st) {
			q.fail(invalidStatus(st))
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

// GET /api/platzsuchen/{id}
func (s *Server) getSearch(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	x, err := store.GetSearch(ctx, s.cfg.Pool, id)
	if err != nil {
		return 0, nil, err
	}
	entries, err := store.SearchEntries(ctx, s.cfg.Pool, id)
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
	ctx := r.Context()
	b := readBody(r)
	patientID := b.requiredInt("patient_id")
	notes := b.str("notizen")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	p, err := s.cfg.Patients.Patient(ctx, patientID)
	if fault.KindOf(err) == fault.NotFound {
		return 0, nil, fault.NotFoundf("Patient %d not found", patientID).Wrap(err)
	}
	if err != nil {
		return 0, nil, err
	}
	if err := matching.ValidatePatientForSearch(p); err != nil {
		msg := err.Error()
		if fe := fault.As(err); fe != nil {
			msg = fe.Message
		}
		return 0, nil, fault.Invalidf("Cannot create platzsuche: %s", msg).With("patient_id", patientID)
	}
	now := s.now()
	var note *string
	if notes != nil && *notes != "" {
		n := matching.Note(now, matching.AuthorAPI, *notes)
		note = &n
	}
	var (
		created store.Search
		ids     []string
	)
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		created, err = store.CreateSearch(ctx, tx, patientID, note, now)
		if errors.Is(err, store.ErrOneActiveSearch) {
			// The reference answers a second search on POST with 400.
			fe := *fault.As(err)
			fe.Kind = fault.Invalid
			return &fe
		}
		if err != nil {
			return err
		}
		ids, err = outbox.Add(ctx, tx, events.NewSearchStatusChanged(events.SearchStatusChangedData{
			SearchID: created.ID, PatientID: created.PatientID, NewStatus: matching.StatusAktiv,
		}))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	s.publish(ctx, ids)
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
	ctx := r.Context()
	b := readBody(r)
	status := b.str("status")
	notes := b.str("notizen")
	exclusions := b.present("ausgeschlossene_therapeuten")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	now := s.now()
	var ids []string
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		cur, err := store.LockSearch(ctx, tx, id)
		if err != nil {
			return err
		}
		var change *events.SearchStatusChangedData
		if status != nil && *status != "" {
			if !matching.IsValidStatus(*status) {
				return invalidStatus(*status)
			}
			if err := matching.CheckTransition(cur.Status, *status); err != nil {
				return err
			}
			var successfulAt *time.Time
			if *status == matching.StatusErfolgreich {
				successfulAt = &now
			}
			// The status goes first: one aktiv search per patient is
			// refused before the exclusion list is looked at.
			if err := store.SetSearchStatus(ctx, tx, id, *status, successfulAt, now); err != nil {
				return err
			}
			old := cur.Status
			change = &events.SearchStatusChangedData{SearchID: id, PatientID: cur.PatientID, OldStatus: &old, NewStatus: *status}
		}
		u := store.SearchUpdate{Notes: notes}
		if exclusions != nil {
			list, err := matching.ValidateExclusionList(exclusions)
			if err != nil {
				return err
			}
			u.Exclusions = list
		}
		if err := store.UpdateSearch(ctx, tx, id, u, now); err != nil {
			return err
		}
		if change != nil {
			ids, err = outbox.Add(ctx, tx, events.NewSearchStatusChanged(*change))
		}
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	s.publish(ctx, ids)
	return http.StatusOK, map[string]any{"message": "Patient search updated successfully", "id": id}, nil
}

// DELETE /api/platzsuchen/{id}
//
// The search's entries leave every anfrage they sit in, and those anfragen
// stay consistent (the reference left anfragegroesse too large, so the
// anfrage could neither be sent nor answered): positions close up,
// anfragegroesse becomes the number of remaining entries, the counts and
// response type of an answered anfrage are recomputed from the remaining
// outcomes, and an anfrage left without patients is deleted.
func (s *Server) deleteSearch(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		anfragen, err := store.DeleteSearch(ctx, tx, id)
		if err != nil {
			return err
		}
		answered, err := store.CompactAnfragen(ctx, tx, anfragen)
		if err != nil {
			return err
		}
		for _, aid := range answered {
			if err := recount(ctx, tx, aid); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"message": "Patient search deleted successfully"}, nil
}

// recount recomputes the response counts and type of answered anfrage id
// from the outcomes of its entries.
func recount(ctx context.Context, tx pgx.Tx, id int64) error {
	entries, err := store.AnfrageEntries(ctx, tx, id)
	if err != nil {
		return err
	}
	outcomes := make([]string, len(entries))
	for i, e := range entries {
		outcomes[i] = deref(e.Outcome)
	}
	sum := matching.Classify(outcomes, len(entries))
	return store.SetResponseCounts(ctx, tx, id, store.Response{
		Type: sum.Type, Accepted: sum.Accepted, Rejected: sum.Rejected, NoResponse: sum.NoResponse,
	})
}

// POST /api/platzsuchen/{id}/kontaktanfrage (legacy)
func (s *Server) requestContacts(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	b := readBody(r)
	count := b.requiredInt("requested_count")
	notes := b.str("notizen")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	// The reference checks the count before it looks the search up.
	switch {
	case count <= 0:
		return 0, nil, fault.Invalidf("Requested count must be positive")
	case count > maxRequestedContacts:
		return 0, nil, fault.Invalidf("Requested count too high (max: %d)", maxRequestedContacts)
	}
	n := int(count)
	now := s.now()
	var before, after int
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		cur, err := store.LockSearch(ctx, tx, id)
		if err != nil {
			return err
		}
		if cur.Status != matching.StatusAktiv {
			return fault.Invalidf("Can only request contacts for active searches. Current status: %s", cur.Status)
		}
		text := fmt.Sprintf("Requested %d additional contacts (total: %d)", n, cur.ContactCount+n)
		if notes != nil && *notes != "" {
			text += " - " + *notes
		}
		newNotes := matching.AppendNote(cur.Notes, matching.Note(now, matching.AuthorAPI, text))
		before, after, err = store.AddContacts(ctx, tx, id, n, newNotes, now)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"message":        fmt.Sprintf("Requested %d additional contacts", n),
		"previous_total": before,
		"new_total":      after,
		"search_id":      id,
	}, nil
}
