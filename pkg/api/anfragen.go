package api

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// POST /api/therapeutenanfragen/erstellen-fuer-therapeut
func (s *Server) createAnfrage(r *http.Request) (int, any, error) {
	b := readBody(r)
	therapistID := b.requiredInt("therapist_id")
	prefix := b.requiredStr("plz_prefix")
	sendNow := b.boolean("sofort_senden", false)
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	res, err := s.uc.CreateAnfrage(r.Context(), placement.NewAnfrage{TherapistID: therapistID, PLZPrefix: prefix, SendNow: sendNow})
	if errors.Is(err, placement.ErrNoEligible) {
		return http.StatusOK, map[string]any{
			"message":      "No eligible patients found for this therapist",
			"therapist_id": therapistID,
			"plz_prefix":   prefix,
		}, nil
	}
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, map[string]any{
		"message":        fmt.Sprintf("Created anfrage with %d patients", len(res.PatientIDs)),
		"anfrage_id":     res.Anfrage.ID,
		"therapist_id":   res.Anfrage.TherapistID,
		"anfragegroesse": len(res.PatientIDs),
		"patient_ids":    res.PatientIDs,
		"gesendet":       res.Sent,
	}, nil
}

// daysSince is Python's (utcnow - t).days: whole days, rounded down.
func daysSince(now, t time.Time) int {
	d := now.Sub(t)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

func (s *Server) needsFollowUp(a store.Anfrage, now time.Time) bool {
	return a.SentAt != nil && a.RespondedAt == nil && a.CancelledAt == nil &&
		daysSince(now, *a.SentAt) >= s.cfg.Matching.FollowUpThresholdDays
}

func daysSinceSent(a store.Anfrage, now time.Time) *int {
	if a.SentAt == nil {
		return nil
	}
	d := daysSince(now, *a.SentAt)
	return &d
}

type anfrageListItem struct {
	ID                         int64   `json:"id"`
	TherapistID                int64   `json:"therapist_id"`
	TherapeutenName            string  `json:"therapeuten_name"`
	ErstelltDatum              string  `json:"erstellt_datum"`
	GesendetDatum              *string `json:"gesendet_datum"`
	AntwortDatum               *string `json:"antwort_datum"`
	TageSeitVersand            *int    `json:"tage_seit_versand"`
	Antworttyp                 *string `json:"antworttyp"`
	Anfragegroesse             int     `json:"anfragegroesse"`
	AngenommenAnzahl           int     `json:"angenommen_anzahl"`
	AbgelehntAnzahl            int     `json:"abgelehnt_anzahl"`
	KeineAntwortAnzahl         int     `json:"keine_antwort_anzahl"`
	NachverfolgungErforderlich bool    `json:"nachverfolgung_erforderlich"`
	AntwortVollstaendig        bool    `json:"antwort_vollstaendig"`
	StorniertDatum             *string `json:"storniert_datum"`
}

// GET /api/therapeutenanfragen
func (s *Server) listAnfragen(r *http.Request) (int, any, error) {
	q := readQuery(r)
	now := s.now()
	f := store.AnfrageFilter{
		FollowUpBefore: now.Add(-time.Duration(s.cfg.Matching.FollowUpThresholdDays) * 24 * time.Hour),
	}
	f.TherapistID = q.integer("therapist_id")
	switch v := q.Get("versand_status"); v {
	case "":
	case "gesendet", "ungesendet":
		sent := v == "gesendet"
		f.Sent = &sent
	default:
		q.fail(fault.Invalidf("Invalid versand_status. Use 'gesendet' or 'ungesendet'"))
	}
	switch v := q.Get("antwort_status"); v {
	case "":
	case "beantwortet", "ausstehend":
		f.Answer = &v
	default:
		q.fail(fault.Invalidf("Invalid antwort_status. Use 'beantwortet' or 'ausstehend'"))
	}
	f.FollowUp = q.boolean("nachverfolgung_erforderlich")
	f.MinSize = q.count("min_size")
	f.MaxSize = q.count("max_size")
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	page, limit := q.pagination()
	f.Limit, f.Offset = limit, offset(page, limit)
	list, totals, err := store.ListAnfragen(r.Context(), s.cfg.Pool, f)
	if err != nil {
		return 0, nil, err
	}
	therapists, err := s.therapists(r.Context(), idsOf(list, func(a store.Anfrage) int64 { return a.TherapistID }))
	if err != nil {
		return 0, nil, err
	}
	data := make([]anfrageListItem, 0, len(list))
	for _, a := range list {
		t, found := therapists[a.TherapistID]
		data = append(data, anfrageListItem{
			ID: a.ID, TherapistID: a.TherapistID,
			TherapeutenName:            fullName(t.Vorname, t.Nachname, found),
			ErstelltDatum:              matching.FormatTimestamp(a.CreatedAt),
			GesendetDatum:              matching.FormatTimestampPtr(a.SentAt),
			AntwortDatum:               matching.FormatTimestampPtr(a.RespondedAt),
			TageSeitVersand:            daysSinceSent(a, now),
			Antworttyp:                 a.ResponseType,
			Anfragegroesse:             a.Size,
			AngenommenAnzahl:           a.Accepted,
			AbgelehntAnzahl:            a.Rejected,
			KeineAntwortAnzahl:         a.NoResponse,
			NachverfolgungErforderlich: s.needsFollowUp(a, now),
			AntwortVollstaendig:        a.Complete,
			StorniertDatum:             matching.FormatTimestampPtr(a.CancelledAt),
		})
	}
	return http.StatusOK, map[string]any{
		"data": data, "page": page, "limit": limit, "total": totals.Total,
		"summary": map[string]int{
			"total_anfragen":    totals.Total,
			"unsent_anfragen":   totals.Unsent,
			"pending_responses": totals.Pending,
			"needing_follow_up": totals.NeedingFollowUp,
		},
	}, nil
}

type anfragePatientItem struct {
	Position        int     `json:"position"`
	PatientID       int64   `json:"patient_id"`
	Patient         any     `json:"patient"`
	PlatzsucheID    int64   `json:"platzsuche_id"`
	SearchCreatedAt string  `json:"search_created_at"`
	WartezeitTage   int     `json:"wartezeit_tage"`
	Status          string  `json:"status"`
	Antwortergebnis *string `json:"antwortergebnis"`
	Antwortnotizen  *string `json:"antwortnotizen"`
}

// GET /api/therapeutenanfragen/{id}[?stand=<RFC 3339>]
func (s *Server) getAnfrage(r *http.Request) (int, any, error) {
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
	// The days since sending and the follow-up flag are those of the
	// instant shown.
	now := s.now()
	if stand != nil {
		now = stand.UTC().Truncate(time.Microsecond)
	}
	a, entries, err := s.readAnfrage(ctx, id, stand)
	if err != nil {
		return 0, nil, err
	}
	therapists, err := s.therapists(ctx, []int64{a.TherapistID})
	if err != nil {
		return 0, nil, err
	}
	patients, err := s.patients(ctx, idsOf(entries, func(e store.AnfrageEntry) int64 { return e.PatientID }))
	if err != nil {
		return 0, nil, err
	}
	items := make([]anfragePatientItem, 0, len(entries))
	for _, e := range entries {
		p, found := patients[e.PatientID]
		items = append(items, anfragePatientItem{
			Position: e.Position, PatientID: e.PatientID,
			Patient:         rawRecord(p.Raw, found),
			PlatzsucheID:    e.SearchID,
			SearchCreatedAt: matching.FormatTimestamp(e.SearchCreatedAt),
			WartezeitTage:   daysSince(now, e.SearchCreatedAt),
			Status:          e.Status, Antwortergebnis: e.Outcome, Antwortnotizen: e.OutcomeNotes,
		})
	}
	t, found := therapists[a.TherapistID]
	return http.StatusOK, map[string]any{
		"id":                a.ID,
		"therapist_id":      a.TherapistID,
		"therapist":         rawRecord(t.Raw, found),
		"erstellt_datum":    matching.FormatTimestamp(a.CreatedAt),
		"gesendet_datum":    matching.FormatTimestampPtr(a.SentAt),
		"antwort_datum":     matching.FormatTimestampPtr(a.RespondedAt),
		"tage_seit_versand": daysSinceSent(a, now),
		"antworttyp":        a.ResponseType,
		"anfragegroesse":    a.Size,
		"antwort_zusammenfassung": map[string]any{
			"total_accepted":       a.Accepted,
			"total_rejected":       a.Rejected,
			"total_no_response":    a.NoResponse,
			"antwort_vollstaendig": a.Complete,
		},
		"notizen":                     a.Notes,
		"email_id":                    a.EmailID,
		"phone_call_id":               a.PhoneCallID,
		"nachverfolgung_erforderlich": s.needsFollowUp(a, now),
		"storniert_datum":             matching.FormatTimestampPtr(a.CancelledAt),
		"storniert_grund":             a.CancelReason,
		"patients":                    items,
	}, nil
}

// DELETE /api/therapeutenanfragen/{id}
func (s *Server) deleteAnfrage(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := s.uc.DeleteAnfrage(r.Context(), id); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"message": "Therapeutenanfrage deleted successfully"}, nil
}
