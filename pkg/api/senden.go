package api

import (
	"net/http"

	"github.com/curavani/matching/pkg/matching"
)

// POST /api/therapeutenanfragen/{id}/senden sends the anfrage by email, or
// by a phone call when the therapist has no address (placement.Send).
func (s *Server) sendAnfrage(r *http.Request) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	res, err := s.uc.Send(r.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{
		"message":            "Anfrage sent successfully",
		"anfrage_id":         res.AnfrageID,
		"communication_type": res.Channel,
		"email_id":           res.EmailID,
		"phone_call_id":      res.PhoneCallID,
		"sent_date":          matching.FormatTimestamp(res.SentAt),
	}, nil
}
