package api

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/matching"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/storable"
)

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
	q := readQuery(r)
	if err := q.err(); err != nil {
		return 0, nil, err
	}
	if _, ok := q.Values["plz_prefix"]; !ok {
		return 0, nil, missingArg("plz_prefix")
	}
	prefix := q.Get("plz_prefix")
	chosen, err := s.uc.SelectTherapists(r.Context(), prefix)
	if err != nil {
		return 0, nil, err
	}
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

func coolingBody(therapistID int64, c placement.Cooling) map[string]any {
	out := map[string]any{
		"therapist_id":               therapistID,
		"naechster_kontakt_moeglich": nil,
		"grund":                      nil,
		"notiz":                      nil,
		"updated_at":                 nil,
	}
	if c.Date != "" {
		out["naechster_kontakt_moeglich"] = c.Date
	}
	if c.Set != nil {
		out["grund"] = c.Set.Reason
		out["notiz"] = c.Set.Note
		out["updated_at"] = matching.FormatTimestamp(c.Set.UpdatedAt)
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
	c, err := s.uc.TherapistCooling(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, coolingBody(id, c), nil
}

// PUT /api/therapeuten/{therapist_id}/naechster-kontakt sets a manual
// cooling period: {"naechster_kontakt_moeglich": "YYYY-MM-DD", "grund": "…"}
// (placement.SetCooling).
func (s *Server) setCooling(r *http.Request) (int, any, error) {
	id, err := pathID(r, "therapist_id")
	if err != nil {
		return 0, nil, err
	}
	b := readBody(r)
	date := b.requiredStr("naechster_kontakt_moeglich")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	until, err := time.Parse(time.DateOnly, date)
	if err != nil || len(date) != 10 {
		return 0, nil, fault.Invalidf("Invalid date format for naechster_kontakt_moeglich. Use YYYY-MM-DD")
	}
	if err := storable.Date(until); err != nil {
		return 0, nil, argError("naechster_kontakt_moeglich", err.Error())
	}
	grund := b.str("grund")
	if err := b.err(); err != nil {
		return 0, nil, err
	}
	c, err := s.uc.SetCooling(r.Context(), id, placement.ManualCooling{Until: until, Note: grund})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, coolingBody(id, c), nil
}
