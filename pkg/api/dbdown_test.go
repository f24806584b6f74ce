package api_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// With the database down (as while PostgreSQL restarts during the fault
// campaign), every endpoint answers 503 "try again" — or the 4xx its input
// deserves — and never a 500: a clerk's client and the gateway retry a
// 503, and the API's error metrics and log must say the database was
// unavailable, not that the code failed.
func TestDatabaseDown_everyEndpointAnswers503(t *testing.T) {
	down, err := pgxpool.New(context.Background(), "postgres://postgres@127.0.0.1:1/matching?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(down.Close)
	e := newEnv(t, func(c *api.Config) { c.Pool = down })
	e.fake.AddPatient(fake.SamplePatient(map[string]any{"id": 1}))
	e.fake.AddTherapist(fake.SampleTherapist(map[string]any{"id": 1}))
	for _, r := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/platzsuchen", nil},
		{"POST", "/api/platzsuchen", map[string]any{"patient_id": 1}},
		{"GET", "/api/platzsuchen/1", nil},
		{"PUT", "/api/platzsuchen/1", map[string]any{"status": "pausiert"}},
		{"DELETE", "/api/platzsuchen/1", nil},
		{"POST", "/api/platzsuchen/1/kontaktanfrage", map[string]any{"requested_count": 2}},
		{"GET", "/api/therapeuten-zur-auswahl?plz_prefix=10", nil},
		{"GET", "/api/therapeuten/1/naechster-kontakt", nil},
		{"PUT", "/api/therapeuten/1/naechster-kontakt", map[string]any{"naechster_kontakt_moeglich": "2025-09-01"}},
		{"POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": 1, "plz_prefix": "10"}},
		{"GET", "/api/therapeutenanfragen", nil},
		{"GET", "/api/therapeutenanfragen/1", nil},
		{"DELETE", "/api/therapeutenanfragen/1", nil},
		{"POST", "/api/therapeutenanfragen/1/senden", nil},
		{"PUT", "/api/therapeutenanfragen/1/antwort", map[string]any{"patient_responses": map[string]any{"1": "angenommen"}}},
		{"POST", "/api/therapeutenanfragen/1/antwort-analyse", map[string]any{"body": "Person 1 nehme ich gern auf."}},
		{"GET", "/api/therapeutenanfragen/1/antwort-vorschlag", nil},
		{"GET", "/api/antwort-vorschlaege", nil},
		{"GET", "/api/verlauf?entity=search&id=1", nil},
	} {
		got := e.do(r.method, r.path, r.body)
		if got.status == 500 || got.status < 400 {
			t.Errorf("%s %s with the database down: %d, want 503 (or a 4xx for the input): %s", r.method, r.path, got.status, got.raw)
		}
		if got.status != 503 {
			t.Logf("%s %s: %d %s", r.method, r.path, got.status, got.raw)
		}
	}
}
