package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
)

// BenchmarkCreateAnfrage composes an anfrage over the API
// (POST …/erstellen-fuer-therapeut, MAX_ANFRAGE_SIZE 6) from 1,000 aktiv
// searches whose patients all live in the PLZ prefix, with the fake
// neighbours answering every call after 2 ms. In the same run it measures the
// reference's algorithm as a baseline: one patient GET per search, one after
// the other, then the constraints of every candidate in the prefix, then the
// first six. ns/op and ms/op are the API request; seq-ms/op the baseline;
// *-calls/op count the requests the fake received.
//
//	go test -run '^$' -bench CreateAnfrage ./pkg/api/
func BenchmarkCreateAnfrage(b *testing.B) {
	scenarios := []struct {
		name string
		far  func(i int) bool // search i's patient lives 88 km away (max_km 5)
	}{
		{"all-qualify", func(int) bool { return false }},
		{"1-in-100-qualify", func(i int) bool { return i%100 != 99 }},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			e := newEnv(b)
			tid := e.therapist(nil)
			for i := range 1000 {
				over := map[string]any{}
				if sc.far(i) {
					over = map[string]any{"plz": "10999", "raeumliche_verfuegbarkeit": map[string]any{"max_km": 5}}
				}
				pid := e.patient(over)
				e.exec(`INSERT INTO matching_service.platzsuche (patient_id, created_at) VALUES ($1, $2)`,
					pid, testNow.Add(-time.Duration(1000-i)*time.Minute))
			}
			e.fake.SetLatency(2 * time.Millisecond)

			// The baseline, once.
			e.fake.ResetCounts()
			start := time.Now()
			chosen := sequentialCompose(b, e, tid, "10")
			seq := time.Since(start)
			seqCounts := e.fake.Counts()

			var elapsed time.Duration
			var patientCalls, distanceCalls int
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				e.exec(`DELETE FROM matching_service.therapeutenanfrage`)
				e.fake.ResetCounts()
				b.StartTimer()
				t0 := time.Now()
				r := e.do("POST", createPath, map[string]any{"therapist_id": tid, "plz_prefix": "10"})
				elapsed += time.Since(t0)
				b.StopTimer()
				if r.status != http.StatusCreated || num(b, r.body["anfragegroesse"]) != int64(chosen) {
					b.Fatalf("status %d, body %s; baseline chose %d", r.status, r.raw, chosen)
				}
				c := e.fake.Counts()
				patientCalls += c[fake.GetPatient]
				distanceCalls += c[fake.CalculateDistance]
				b.StartTimer()
			}
			n := float64(b.N)
			ms := float64(elapsed) / float64(time.Millisecond) / n
			seqMS := float64(seq) / float64(time.Millisecond)
			b.ReportMetric(ms, "ms/op")
			b.ReportMetric(float64(patientCalls)/n, "patient-calls/op")
			b.ReportMetric(float64(distanceCalls)/n, "distance-calls/op")
			b.ReportMetric(seqMS, "seq-ms/op")
			b.ReportMetric(float64(seqCounts[fake.GetPatient]), "seq-patient-calls/op")
			b.ReportMetric(float64(seqCounts[fake.CalculateDistance]), "seq-distance-calls/op")
			b.ReportMetric(seqMS/ms, "speedup")
		})
	}
}

// sequentialCompose is the reference's composition (reference-behaviour
// §3.2): every aktiv search, oldest first; one patient GET each; the hard
// constraints for every patient in the prefix; then the first six.
func sequentialCompose(b *testing.B, e *env, therapistID int64, prefix string) int {
	ctx := context.Background()
	clients := e.clients()
	t, err := clients.Therapists.Therapist(ctx, therapistID)
	if err != nil {
		b.Fatal(err)
	}
	cands, err := store.CandidateSearches(ctx, e.pool, therapistID)
	if err != nil {
		b.Fatal(err)
	}
	var ok []int64
	for _, c := range cands {
		p, err := clients.Patients.Patient(ctx, c.PatientID)
		if err != nil {
			b.Fatal(err)
		}
		if p.PLZ == nil || !strings.HasPrefix(*p.PLZ, prefix) {
			continue
		}
		pass, _, err := placement.CheckConstraints(ctx, p.Matching(), t.Matching(), c.Exclusions, clients.Distances, 25, testNow)
		if err != nil {
			b.Fatal(err)
		}
		if pass {
			ok = append(ok, c.SearchID)
		}
	}
	return min(len(ok), 6)
}

// BenchmarkListAnfragen measures GET /api/therapeutenanfragen?limit=100 with
// 10,000 anfragen (three patients each, 100 therapists) in the database and
// reports the p50 and p95 latency over b.N requests. The therapist names come
// from the fake therapist service answering at once; the "sql" variants time
// the store query alone.
//
//	go test -run '^$' -bench ListAnfragen -benchtime 200x ./pkg/api/
func BenchmarkListAnfragen(b *testing.B) {
	e := newEnv(b)
	for i := range 100 {
		e.fake.AddTherapist(fake.SampleTherapist(map[string]any{"id": i + 1}))
	}
	e.exec(`INSERT INTO matching_service.platzsuche (patient_id, status, created_at)
	        SELECT g, 'erfolgreich', $1::timestamp - g * interval '1 minute' FROM generate_series(1, 10000) g`, testNow)
	e.exec(`INSERT INTO matching_service.therapeutenanfrage (therapist_id, erstellt_datum, gesendet_datum, antwort_datum, anfragegroesse)
	        SELECT 1 + g % 100, $1::timestamp - g * interval '1 hour',
	               CASE WHEN g % 10 <> 0 THEN $1::timestamp - g * interval '1 hour' + interval '1 minute' END,
	               CASE WHEN g % 3 = 0 AND g % 10 <> 0 THEN $1::timestamp - g * interval '1 hour' + interval '1 day' END,
	               3
	        FROM generate_series(1, 10000) g`, testNow)
	e.exec(`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage)
	        SELECT a.id, 1 + (a.id * 7 + k) % 10000, 1 + (a.id * 7 + k) % 10000, k + 1
	        FROM matching_service.therapeutenanfrage a, generate_series(0, 2) k`)
	e.exec(`ANALYZE`)

	for _, q := range []string{"?limit=100", "?limit=100&antwort_status=ausstehend&nachverfolgung_erforderlich=true", "?limit=100&page=50"} {
		b.Run("http"+q, func(b *testing.B) {
			durations := make([]time.Duration, 0, b.N)
			for range b.N {
				t0 := time.Now()
				r := e.do("GET", "/api/therapeutenanfragen"+q, nil)
				durations = append(durations, time.Since(t0))
				if r.status != 200 {
					b.Fatalf("status %d: %s", r.status, r.raw)
				}
			}
			reportPercentiles(b, durations)
		})
	}
	b.Run("sql?limit=100", func(b *testing.B) {
		durations := make([]time.Duration, 0, b.N)
		f := store.AnfrageFilter{Limit: 100, FollowUpBefore: testNow.Add(-7 * 24 * time.Hour)}
		for range b.N {
			t0 := time.Now()
			if _, _, err := store.ListAnfragen(context.Background(), e.pool, f); err != nil {
				b.Fatal(err)
			}
			durations = append(durations, time.Since(t0))
		}
		reportPercentiles(b, durations)
	})
}

func reportPercentiles(b *testing.B, d []time.Duration) {
	slices.Sort(d)
	at := func(p float64) float64 {
		return float64(d[min(len(d)-1, int(p*float64(len(d))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.95), "p95-ms")
}
