package placement_test

// Benchmarks of enhancements A (matching's copy), for the closing note:
//
//	go test ./pkg/placement -run '^$' -bench 'FromCopy|Selection|DirectorySync' -benchtime 20x
//
// Each compares the copy with today's path (every record asked of the fake
// services, which answer in 2 ms, as BenchmarkCompose's fakes do) in the
// same run, on the same database; the absolute numbers move with the load
// on the machine, the ratios much less.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/directory"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store/storetest"
)

// benchWorld is a database with n aktiv searches of patients 1 … n (the
// oldest first) in PLZ area 10, m therapists, the fake services holding
// them, and two services on it: one with matching's copy (synced) and one
// asking the services per record, as today.
type benchWorld struct {
	pool       *pgxpool.Pool
	fake       *fake.Fake
	dir        *directory.Directory
	copy, base *placement.Service
}

func newBenchWorld(b *testing.B, n, m int, patient func(i int) map[string]any) *benchWorld {
	b.Helper()
	pool, _ := storetest.New(b)
	f, ncfg := fake.Start(b)
	for i := 1; i <= n; i++ {
		f.AddPatient(fake.SamplePatient(patient(i)))
	}
	for i := 1; i <= m; i++ {
		f.AddTherapist(fake.SampleTherapist(map[string]any{"nachname": fmt.Sprintf("T%05d", i),
			"email": fmt.Sprintf("t%d@example.org", i%(m/2+1)), "potenziell_verfuegbar": i%3 == 0}))
	}
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status, created_at)
		SELECT g, 'aktiv', '2025-01-01'::timestamp + g * interval '1 minute' FROM generate_series(1, $1::int) g`, n); err != nil {
		b.Fatal(err)
	}
	clients := neighbours.NewClients(ncfg)
	dir := directory.New(pool, clients, nil)
	cfg := placement.Config{
		Pool: pool, Patients: clients.Patients, Therapists: clients.Therapists, Distances: clients.Distances,
		Communication: clients.Communication,
		Matching: config.Matching{MinAnfrageSize: 1, MaxAnfrageSize: 6, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
			CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00", Timezone: "Europe/Berlin"},
		Now: func() time.Time { return copyNow },
	}
	w := &benchWorld{pool: pool, fake: f, dir: dir, base: placement.New(cfg)}
	cfg.Directory = dir
	w.copy = placement.New(cfg)
	if sum, err := dir.Sync(ctx); err != nil || !sum.OK() {
		b.Fatalf("sync: %v %v", sum, err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM matching_service.recheck_request`); err != nil {
		b.Fatal(err)
	}
	return w
}

// calls is how many requests reached the patient and therapist services,
// and the geocoding service, since the last reset.
func (w *benchWorld) calls() (directory, geocoding int) {
	for ep, n := range w.fake.Counts() {
		if ep == fake.CalculateDistance {
			geocoding += n
		} else {
			directory += n
		}
	}
	w.fake.ResetCounts()
	return directory, geocoding
}

// compose composes for therapist 1 and deletes the anfrage again (outside
// the measured time), returning how long the composition took.
func (w *benchWorld) compose(b *testing.B, svc *placement.Service, want int) time.Duration {
	start := time.Now()
	a, err := svc.CreateAnfrage(context.Background(), placement.NewAnfrage{TherapistID: 1, PLZPrefix: "10"})
	took := time.Since(start)
	if want == 0 {
		if err != placement.ErrNoEligible {
			b.Fatalf("composition: %v, want none eligible", err)
		}
		return took
	}
	if err != nil {
		b.Fatal(err)
	}
	if len(a.PatientIDs) != want {
		b.Fatalf("composed %d patients, want %d", len(a.PatientIDs), want)
	}
	if err := svc.DeleteAnfrage(context.Background(), a.Anfrage.ID); err != nil {
		b.Fatal(err)
	}
	return took
}

func p50(ds []time.Duration) float64 {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[(len(s)-1)/2].Seconds() * 1000
}

// BenchmarkComposeFromCopy composes for one therapist among 10,000 aktiv
// searches, from the warm copy (copy-p50-ms, and the calls it makes to the
// patient and therapist services: 0) and, in the same run, as today, with
// the services answering in 2 ms (today-p50-ms over 3 runs, its calls). The
// scenarios: every patient qualifies; 1 in 100 does (the others want a male
// therapist, a local constraint); nobody does (the whole queue is read).
func BenchmarkComposeFromCopy(b *testing.B) {
	scenarios := []struct {
		name   string
		fails  func(i int) bool
		chosen int
	}{
		{"all-qualify", func(int) bool { return false }, 6},
		{"1-in-100-qualify", func(i int) bool { return i%100 != 0 }, 6},
		{"none-qualify", func(int) bool { return true }, 0},
	}
	for _, sc := range scenarios {
		b.Run(sc.name, func(b *testing.B) {
			w := newBenchWorld(b, 10000, 1, func(i int) map[string]any {
				if sc.fails(i) {
					return map[string]any{"bevorzugtes_therapeutengeschlecht": "Männlich"}
				}
				return nil
			})
			w.fake.SetLatency(2 * time.Millisecond)
			w.compose(b, w.copy, sc.chosen) // warms the distance table
			w.calls()
			var today []time.Duration
			for range 3 {
				today = append(today, w.compose(b, w.base, sc.chosen))
			}
			todayCalls, todayGeo := w.calls()
			var fromCopy []time.Duration
			b.ResetTimer()
			for range b.N {
				fromCopy = append(fromCopy, w.compose(b, w.copy, sc.chosen))
			}
			b.StopTimer()
			copyCalls, copyGeo := w.calls()
			n := float64(b.N)
			b.ReportMetric(p50(fromCopy), "copy-p50-ms")
			b.ReportMetric(float64(copyCalls)/n, "copy-directory-calls/op")
			b.ReportMetric(float64(copyGeo)/n, "copy-geocoding-calls/op")
			b.ReportMetric(p50(today), "today-p50-ms")
			b.ReportMetric(float64(todayCalls)/3, "today-directory-calls/op")
			b.ReportMetric(float64(todayGeo)/3, "today-geocoding-calls/op")
			b.ReportMetric(p50(today)/p50(fromCopy), "speedup")
		})
	}
}

// BenchmarkSelectionFromCopy builds the selection list of a PLZ area with
// 2,000 aktiv therapists (1,000 practices of two) from the copy, and in the
// same run as today from the therapist service's list (two pages of 1,000,
// 2 ms each).
func BenchmarkSelectionFromCopy(b *testing.B) {
	w := newBenchWorld(b, 0, 2000, nil)
	w.fake.SetLatency(2 * time.Millisecond)
	ctx := context.Background()
	want, err := w.base.SelectTherapists(ctx, "10")
	if err != nil {
		b.Fatal(err)
	}
	var today []time.Duration
	for range 5 {
		start := time.Now()
		if _, err := w.base.SelectTherapists(ctx, "10"); err != nil {
			b.Fatal(err)
		}
		today = append(today, time.Since(start))
	}
	w.calls()
	var fromCopy []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		got, err := w.copy.SelectTherapists(ctx, "10")
		fromCopy = append(fromCopy, time.Since(start))
		if err != nil || len(got) != len(want) {
			b.Fatalf("selection from the copy: %d therapists, %v; want %d", len(got), err, len(want))
		}
	}
	b.StopTimer()
	calls, _ := w.calls()
	b.ReportMetric(float64(len(want)), "listed")
	b.ReportMetric(p50(fromCopy), "copy-p50-ms")
	b.ReportMetric(float64(calls)/float64(b.N), "copy-calls/op")
	b.ReportMetric(p50(today), "today-p50-ms")
	b.ReportMetric(p50(today)/p50(fromCopy), "speedup")
}

// BenchmarkDirectorySync runs directory-sync over 10,000 patients with an
// open search and 2,000 therapists: the first run (an empty copy: every
// record stored), then b.N runs that find nothing changed, with the
// services answering at once and, once, in 2 ms.
func BenchmarkDirectorySync(b *testing.B) {
	pool, _ := storetest.New(b)
	f, ncfg := fake.Start(b)
	for range 10000 {
		f.AddPatient(fake.SamplePatient(nil))
	}
	for range 2000 {
		f.AddTherapist(fake.SampleTherapist(nil))
	}
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `
		INSERT INTO matching_service.platzsuche (patient_id, status)
		SELECT g, 'aktiv' FROM generate_series(1, 10000) g`); err != nil {
		b.Fatal(err)
	}
	dir := directory.New(pool, neighbours.NewClients(ncfg), nil)
	run := func(want int) time.Duration {
		start := time.Now()
		sum, err := dir.Sync(ctx)
		took := time.Since(start)
		if err != nil || !sum.OK() || sum.Checked != 12000 || sum.Changed != want {
			b.Fatalf("sync: %v %v; want 12000 checked, %d changed", sum, err, want)
		}
		return took
	}
	first := run(12000)
	var again []time.Duration
	b.ResetTimer()
	for range b.N {
		again = append(again, run(0))
	}
	b.StopTimer()
	f.SetLatency(2 * time.Millisecond)
	slow := run(0)
	b.ReportMetric(first.Seconds(), "first-s")
	b.ReportMetric(p50(again)/1000, "unchanged-p50-s")
	b.ReportMetric(slow.Seconds(), "unchanged-2ms-services-s")
}
