package placement

import (
	"context"
	"testing"
	"time"
)

// BenchmarkCompose composes an anfrage (Max 6) from 1,000 active searches in
// one PLZ prefix, with patient and geocoding services that answer in 2 ms,
// and runs the reference's sequential algorithm (one patient call per search,
// then the constraints of every match) on the same data in the same run.
// ns/op is compose alone (averaged over b.N runs); the seq- metrics are one
// run of the baseline; speedup is seq-ms/op over compose's milliseconds.
//
//	go test -run '^$' -bench Compose ./pkg/placement/
func BenchmarkCompose(b *testing.B) {
	scenarios := []struct {
		name string
		fail func(i int) bool // candidate i fails a constraint
		far  bool             // by distance (a geocoding call), else by exclusion
	}{
		{"all-qualify", nil, false},
		{"1-in-100-qualify/excluded", func(i int) bool { return i%100 != 99 }, false},
		{"1-in-100-qualify/too-far", func(i int) bool { return i%100 != 99 }, true},
		{"none-qualify/too-far", func(int) bool { return true }, true},
	}
	for _, s := range scenarios {
		// The baseline runs once per scenario (seconds per run), outside the
		// timer; b.Run calls the function again for each b.N it tries.
		var base struct {
			done                   bool
			chosen                 int
			ms, patients, distance float64
		}
		b.Run(s.name, func(b *testing.B) {
			ctx := context.Background()
			if !base.done {
				w := benchWorld(s.fail, s.far)
				start := time.Now()
				want, err := sequentialCompose(ctx, w.patients, w.dist, therapist(1), "52", w.cands, 6)
				if err != nil {
					b.Fatal(err)
				}
				base.ms = float64(time.Since(start)) / float64(time.Millisecond)
				base.chosen, base.done = len(want), true
				base.patients, base.distance = float64(w.patients.calls.Load()), float64(w.dist.count())
				b.ResetTimer()
			}
			b.ReportMetric(base.ms, "seq-ms/op")
			b.ReportMetric(base.patients, "seq-patient-calls/op")
			b.ReportMetric(base.distance, "seq-distance-calls/op")

			var patients, dist int64
			var elapsed time.Duration
			for range b.N {
				b.StopTimer()
				w := benchWorld(s.fail, s.far)
				b.StartTimer()
				start := time.Now()
				got, err := w.composer(6, 8).compose(ctx, therapist(1), "52", w.cands, testToday)
				elapsed += time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if len(got) != base.chosen {
					b.Fatalf("compose chose %d, sequential %d", len(got), base.chosen)
				}
				patients += w.patients.calls.Load()
				dist += int64(w.dist.count())
			}
			n := float64(b.N)
			composeMS := float64(elapsed) / float64(time.Millisecond) / n
			b.ReportMetric(float64(base.chosen), "chosen")
			b.ReportMetric(float64(patients)/n, "patient-calls/op")
			b.ReportMetric(float64(dist)/n, "distance-calls/op")
			b.ReportMetric(base.ms/composeMS, "speedup")
		})
	}
}

// benchWorld is 1,000 candidates answering in 2 ms; the failing ones are
// excluded by their search or, with far, live 80 km away.
func benchWorld(fail func(int) bool, far bool) *world {
	if !far {
		return newWorld(1000, 2*time.Millisecond, fail)
	}
	w := newWorld(1000, 2*time.Millisecond, nil)
	w.dist.km = map[[2]string]float64{{"Fernweg 1, 52999, Aachen", therapistAddress}: 80}
	for i, c := range w.cands {
		if fail(i) {
			p := w.patients.records[c.PatientID]
			p.Strasse, p.PLZ = sp("Fernweg 1"), sp("52999")
			w.patients.records[c.PatientID] = p
		}
	}
	return w
}
