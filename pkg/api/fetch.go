package api

import (
	"context"

	"github.com/curavani/matching/pkg/neighbours"
)

// idsOf is the id of each element of list.
func idsOf[T any](list []T, id func(T) int64) []int64 {
	ids := make([]int64, len(list))
	for i, x := range list {
		ids[i] = id(x)
	}
	return ids
}

func (s *Server) patients(ctx context.Context, ids []int64) (map[int64]neighbours.Patient, error) {
	return neighbours.FetchAll(ctx, ids, s.cfg.Concurrency, s.cfg.Patients.Patient)
}

func (s *Server) therapists(ctx context.Context, ids []int64) (map[int64]neighbours.Therapist, error) {
	return neighbours.FetchAll(ctx, ids, s.cfg.Concurrency, s.cfg.Therapists.Therapist)
}

// fullName is the reference's "{vorname} {nachname}" of a record, or "Unknown".
func fullName(vorname, nachname *string, found bool) string {
	if !found {
		return "Unknown"
	}
	return deref(vorname) + " " + deref(nachname)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// rawRecord is a neighbour record as the service returned it, or JSON null.
func rawRecord(raw []byte, found bool) any {
	if !found || len(raw) == 0 {
		return nil
	}
	return jsonRaw(raw)
}

type jsonRaw []byte

func (r jsonRaw) MarshalJSON() ([]byte, error) { return r, nil }
