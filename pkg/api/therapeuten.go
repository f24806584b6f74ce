package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/store"
)

// checkPrefix validates a PLZ prefix: exactly PLZ_MATCH_DIGITS digits.
func (s *Server) checkPrefix(prefix string) error {
	n := s.cfg.Matching.PLZMatchDigits
	if len(prefix) != n || strings.TrimLeft(prefix, "0123456789") != "" {
		return fault.Invalidf("Invalid PLZ prefix. Must be exactly %d digits.", n)
	}
	return nil
}

type selectionItem struct {
	ID                       int64           `json:"id"`
	Anrede                   *string         `json:"anrede"`
	Titel                    *string         `json:"titel"`
	Vorname                  *string         `json:"vorname"`
	Nachname                 *string         `json:"nachname"`
	Strasse                  *string         `json:"strasse"`
	PLZ                      *string         `json:"plz"`
	Ort                      *string         `json:"ort"`
	Telefon                  *string         `json:"telefon"`
	Email                    *string         `json:"email"`
	PotenziellVerfuegbar     bool            `json:"potenziell_verfuegbar"`
	UeberCuravaniInformiert  bool            `json:"ueber_curavani_informiert"`
	NaechsterKontaktMoeglich *string         `json:"naechster_kontakt_moeglich"`
	BevorzugteDiagnosen      json.RawMessage `json:"bevorzugte_diagnosen"`
	Psychotherapieverfahren  *string         `json:"psychotherapieverfahren"`
}

// GET /api/therapeuten-zur-auswahl?plz_prefix=NN
func (s *Server) selectTherapists(r *http.Request) (int, any, error) {
	ctx := r.Context()
	q := r.URL.Query()
	if _, ok := q["plz_prefix"]; !ok {
		return 0, nil, missingArg("plz_prefix")
	}
	prefix := q.Get("plz_prefix")
	if err := s.checkPrefix(prefix); err != nil {
		return 0, nil, err
	}
	list, err := s.cfg.Therapists.ActiveInPLZPrefix(ctx, prefix)
	if err != nil {
		return 0, nil, err
	}
	ids := idsOf(list, func(t neighbours.Therapist) int64 { return t.ID })
	pending, err := store.PendingTherapists(ctx, s.cfg.Pool, ids)
	if err != nil {
		return 0, nil, err
	}
	cooling, err := store.CoolingDates(ctx, s.cfg.Pool, ids)
	if err != nil {
		return 0, nil, err
	}
	for i := range list {
		applyCooling(&list[i], cooling)
	}
	chosen := matching.SelectTherapists(list, pending, cooling, s.today(s.now()))
	data := make([]selectionItem, 0, len(chosen))
	for _, t := range chosen {
		diag := t.BevorzugteDiagnosen
		if len(diag) == 0 || string(diag) == "null" {
			diag = json.RawMessage("[]")
		}
		data = append(data, selectionItem{
			ID: t.ID, Anrede: t.Anrede, Titel: t.Titel, Vorname: t.Vorname, Nachname: t.Nachname,
			Strasse: t.Strasse, PLZ: t.PLZ, Ort: t.Ort, Telefon: t.Telefon, Email: t.Email,
			PotenziellVerfuegbar:     t.PotenziellVerfuegbar != nil && *t.PotenziellVerfuegbar,
			UeberCuravaniInformiert:  t.UeberCuravaniInformiert != nil && *t.UeberCuravaniInformiert,
			NaechsterKontaktMoeglich: t.NaechsterKontaktMoeglich,
			BevorzugteDiagnosen:      diag,
			Psychotherapieverfahren:  t.Psychotherapieverfahren,
		})
	}
	return http.StatusOK, map[string]any{"plz_prefix": prefix, "total": len(data), "data": data}, nil
}

// applyCooling makes matching's own cooling date, where it holds one, the
// therapist's naechster_kontakt_moeglich: matching owns the cooling period
// (a manual override may also end it early), and the therapist service's
// field is only the fallback for therapists matching never set a date for.
func applyCooling(t *neighbours.Therapist, cooling map[int64]string) {
	if d, ok := cooling[t.ID]; ok {
		t.NaechsterKontaktMoeglich = &d
	}
}

// coolingDate is the therapist's effective next-contact date (YYYY-MM-DD) or "".
func coolingDate(t neighbours.Therapist, row *store.Cooling) string {
	if row != nil {
		return row.Date
	}
	if t.NaechsterKontaktMoeglich != nil && len(*t.NaechsterKontaktMoeglich) >= 10 {
		return (*t.NaechsterKontaktMoeglich)[:10]
	}
	return ""
}

// therapist reads a therapist; unknown is 404 "Therapist {id} not found".
func (s *Server) therapist(ctx context.Context, id int64) (neighbours.Therapist, error) {
	t, err := s.cfg.Therapists.Therapist(ctx, id)
	if err != nil && fault.KindOf(err) == fault.NotFound {
		return t, fault.NotFoundf("Therapist %d not found", id).Wrap(err)
	}
	return t, err
}

func coolingBody(therapistID int64, date string, row *store.Cooling) map[string]any {
	out := map[string]any{
		"therapist_id":               therapistID,
		"naechster_kontakt_moeglich": nil,
		"grund":                      nil,
		"notiz":                      nil,
		"updated_at":                 nil,
	}
	if date != "" {
		out["naechster_kontakt_moeglich"] = date
	}
	if row != nil {
		out["grund"] = row.Reason
		out["notiz"] = row.Note
		out["updated_at"] = matching.FormatTimestamp(row.UpdatedAt)
	}
	return out
}

// GET /api/therapeuten/{therapist_id}/naechster-kontakt reads the date from
// which the therapist may be contacted again: matching's own (with its
// reason) or, when matching never set one, the therapist service's.
func (s *Server) getCooling(r *http.Request) (int, any, error) {
	id, err := pathID(r, "therapist_id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	t, err := s.therapist(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	row, err := store.GetCooling(ctx, s.cfg.Pool, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, coolingBody(id, coolingDate(t, row), row), nil
}

// PUT /api/therapeuten/{therapist_id}/naechster-kontakt sets a manual
// cooling period: {"naechster_kontakt_moeglich": "YYYY-MM-DD", "grund": "…"}.
// The date replaces whatever was set, so a date in the past ends a period
// early. It emits cooling.period_started with reason manual.
func (s *Server) setCooling(r *http.Request) (int, any, error) {
	id, err := pathID(r, "therapist_id")
	if err != nil {
		return 0, nil, err
	}
	ctx := r.Context()
	b := readBody(r)
	date := b.requiredStr("naechster_kontakt_moeglich")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	if _, err := time.Parse("2006-01-02", date); err != nil || len(date) != 10 {
		return 0, nil, fault.Invalidf("Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD")
	}
	grund := b.str("grund")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	if _, err := s.therapist(ctx, id); err != nil {
		return 0, nil, err
	}
	now := s.now()
	var (
		row store.Cooling
		ids []string
	)
	err = store.WithTx(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var err error
		row, err = store.SetCooling(ctx, tx, id, date, grund, now)
		if err != nil {
			return err
		}
		ids, err = outbox.Add(ctx, tx, events.NewCoolingPeriodStarted(events.CoolingPeriodStartedData{
			TherapistID: id, NextContactableDate: row.Date, Reason: events.CoolingManual,
		}))
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	s.publish(ctx, ids)
	s.writeBackCooling(ctx, id, row.Date)
	return http.StatusOK, coolingBody(id, row.Date, &row), nil
}

// writeBackCooling also writes the date to the therapist service when
// THERAPIST_COOLING_WRITEBACK is on. It runs after the commit and only logs a
// failure: matching's own date is what matching checks.
func (s *Server) writeBackCooling(ctx context.Context, therapistID int64, date string) {
	if !s.cfg.Matching.TherapistCoolingWriteback {
		return
	}
	if err := s.cfg.Therapists.SetNextContact(ctx, therapistID, date); err != nil {
		s.log.Warn("cooling write-back to the therapist service failed",
			"therapist_id", therapistID, "naechster_kontakt_moeglich", date, "error", err.Error())
	}
}
