package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// errNoEligible marks a composition that found too few patients; the
// reference answers it with 200.
var errNoEligible = errors.New("no eligible patients")

// POST /api/therapeutenanfragen/erstellen-fuer-therapeut
func (s *Server) createAnfrage(r *http.Request) (int, any, error) {
	ctx := r.Context()
	b := readBody(r)
	therapistID := b.requiredInt("therapist_id")
	prefix := b.requiredStr("plz_prefix")
	sendNow := b.boolean("sofort_senden", false)
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	if err := s.checkPrefix(prefix); err != nil {
		return 0, nil, err
	}
	a, entries, err := s.create(ctx, therapistID, prefix)
	if errors.Is(err, errNoEligible) {
		return http.StatusOK, map[string]any{
			"message":      "No eligible patients found for this therapist",
			"therapist_id": therapistID,
			"plz_prefix":   prefix,
		}, nil
	}
	if err != nil {
		return 0, nil, creationFailed(err)
	}
	sent := false
	if sendNow {
		if _, err := s.send(ctx, a.ID); err != nil {
			// As in the reference, a failed immediate send leaves the
			// anfrage created and unsent; it can be sent later.
			s.log.Warn("immediate send failed", "anfrage_id", a.ID, "error", err.Error())
		} else {
			sent = true
		}
	}
	return http.StatusCreated, map[string]any{
		"message":        fmt.Sprintf("Created anfrage with %d patients", len(entries)),
		"anfrage_id":     a.ID,
		"therapist_id":   a.TherapistID,
		"anfragegroesse": len(entries),
		"patient_ids":    patientIDs(entries),
		"gesendet":       sent,
	}, nil
}

func patientIDs(entries []store.AnfrageEntry) []int64 {
	return idsOf(entries, func(e store.AnfrageEntry) int64 { return e.PatientID })
}

// create builds an anfrage for therapist tid from the searches of the PLZ
// prefix and emits therapeutenanfrage.created; errNoEligible when fewer than
// MIN_ANFRAGE_SIZE patients qualify.
//
// The therapist must exist (404), be aktiv, outside a cooling period and
// without an open anfrage (409 each). Composition runs without holding a
// transaction (it calls the patient and geocoding services); the insert then
// takes the therapist's advisory lock and checks again, so of two concurrent
// creations for one therapist exactly one succeeds and the other gets the
// 409 — also when the first took every candidate.
func (s *Server) create(ctx context.Context, tid int64, prefix string) (store.Anfrage, []store.AnfrageEntry, error) {
	now := s.now()
	today := s.today(now)
	t, err := s.therapist(ctx, tid)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	if err := s.checkContactable(ctx, s.cfg.Pool, t, today); err != nil {
		return store.Anfrage{}, nil, err
	}
	cands, err := store.CandidateSearches(ctx, s.cfg.Pool, tid)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	mc := make([]matching.Candidate, len(cands))
	for i, c := range cands {
		mc[i] = matching.Candidate{SearchID: c.SearchID, PatientID: c.PatientID, CreatedAt: c.CreatedAt, Exclusions: c.Exclusions}
	}
	composer := matching.Composer{
		Patients:     s.cfg.Patients,
		Distances:    s.cfg.Distances,
		Concurrency:  s.cfg.Concurrency,
		DefaultMaxKM: s.cfg.Matching.DefaultMaxDistanceKM,
		Max:          s.cfg.Matching.MaxAnfrageSize,
	}
	chosen, err := composer.Compose(ctx, t, prefix, mc, today)
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	searchIDs := make([]int64, len(chosen))
	for i, c := range chosen {
		searchIDs[i] = c.SearchID
	}
	var (
		a       store.Anfrage
		entries []store.AnfrageEntry
		ids     []string
	)
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		if err := store.LockTherapist(ctx, tx, tid); err != nil {
			return err
		}
		if err := s.checkContactable(ctx, tx, t, today); err != nil {
			return err
		}
		if len(chosen) < s.cfg.Matching.MinAnfrageSize {
			return errNoEligible
		}
		var ok bool
		var err error
		// Searches that left aktiv since composition are left out.
		a, entries, ok, err = store.InsertAnfrage(ctx, tx, tid, searchIDs, now)
		if err != nil {
			return err
		}
		if !ok || len(entries) < s.cfg.Matching.MinAnfrageSize {
			return errNoEligible
		}
		ids, err = outbox.Add(ctx, tx, events.NewAnfrageCreated(events.AnfrageCreatedData{
			AnfrageID: a.ID, TherapistID: tid, PatientIDs: patientIDs(entries), AnfrageSize: len(entries),
		}))
		return err
	})
	if err != nil {
		return store.Anfrage{}, nil, err
	}
	s.logLifecycle(ctx, "anfrage created", events.AnfrageCreated, a.ID, ids,
		slog.Int64("therapist_id", tid), slog.Int("patients", len(entries)))
	s.publish(ctx, ids)
	return a, entries, nil
}

// creationFailed is the reference's 500 of a failed creation,
// {"message": "Anfrage creation failed", "error": "…"}; classified errors
// (404, 409, 503) keep their own answer.
func creationFailed(err error) error {
	if fault.As(err) != nil {
		return err
	}
	return internalError("Anfrage creation failed", err).With("error", err.Error())
}

// checkContactable returns a 409 when therapist t may not get a new anfrage:
// not aktiv, in a cooling period, or with an open anfrage.
func (s *Server) checkContactable(ctx context.Context, db store.DB, t neighbours.Therapist, today time.Time) error {
	if st := deref(t.Status); st != "aktiv" {
		return fault.Conflictf("Therapist %d is not active (status: %s)", t.ID, st)
	}
	row, err := store.GetCooling(ctx, db, t.ID)
	if err != nil {
		return err
	}
	if d := coolingDate(t, row); matching.InCooling(d, today) {
		return fault.Conflictf("Therapist %d is in a cooling period until %s", t.ID, d).With("naechster_kontakt_moeglich", d)
	}
	open, err := store.OpenAnfrage(ctx, db, t.ID)
	if err != nil {
		return err
	}
	if open != 0 {
		return fault.Conflictf("Therapist %d already has an open anfrage (%d)", t.ID, open).With("anfrage_id", open)
	}
	return nil
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

// GET /api/therapeutenanfragen/{id}
func (s *Server) getAnfrage(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	now := s.now()
	a, err := store.GetAnfrage(ctx, s.cfg.Pool, id)
	if err != nil {
		return 0, nil, err
	}
	entries, err := store.AnfrageEntries(ctx, s.cfg.Pool, id)
	if err != nil {
		return 0, nil, err
	}
	therapists, err := s.therapists(ctx, []int64{a.TherapistID})
	if err != nil {
		return 0, nil, err
	}
	patients, err := s.patients(ctx, patientIDs(entries))
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

// DELETE /api/therapeutenanfragen/{id}: allowed in any state; emails and
// phone calls in the communication service stay.
func (s *Server) deleteAnfrage(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if err := store.DeleteAnfrage(r.Context(), s.cfg.Pool, id); err != nil {
		return 0, nil, err
	}
	s.log.Info("anfrage deleted", slog.Int64("anfrage_id", id))
	return http.StatusOK, map[string]any{"message": "Therapeutenanfrage deleted successfully"}, nil
}
