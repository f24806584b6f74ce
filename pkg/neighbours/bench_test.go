package neighbours_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// BenchmarkPatientBatch reads 100 patients from a patient service that takes
// 2 ms per answer, one after another (the reference's way, the baseline) and
// with 16 concurrent calls on the shared client, and reports both and their ratio.
func BenchmarkPatientBatch(b *testing.B) {
	f, cfg := fake.Start(b)
	f.SetLatency(2 * time.Millisecond)
	var ids []int64
	for i := 0; i < 100; i++ {
		ids = append(ids, f.AddPatient(fake.SamplePatient(nil)))
	}
	c := neighbours.NewClients(cfg)
	ctx := context.Background()
	sequential := func() {
		for _, id := range ids {
			if _, err := c.Patients.Patient(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
	}
	concurrent := func(workers int) {
		work := make(chan int64)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range work {
					if _, err := c.Patients.Patient(ctx, id); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for _, id := range ids {
			work <- id
		}
		close(work)
		wg.Wait()
	}
	concurrent(16) // warm the connection pool
	f.ResetCounts()
	var seq, conc time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		sequential()
		t1 := time.Now()
		concurrent(16)
		seq += t1.Sub(t0)
		conc += time.Since(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(seq.Microseconds())/1000/n, "seq-ms/100")
	b.ReportMetric(float64(conc.Microseconds())/1000/n, "conc16-ms/100")
	b.ReportMetric(float64(seq)/float64(conc), "speedup")
	b.ReportMetric(float64(f.Count(fake.GetPatient))/n, "calls/op")
}

// BenchmarkActiveInPLZPrefix lists 3,000 active therapists in one prefix
// (three pages of 1000) from a service that takes 2 ms per answer.
func BenchmarkActiveInPLZPrefix(b *testing.B) {
	f, cfg := fake.Start(b)
	f.SetLatency(2 * time.Millisecond)
	for i := 0; i < 3000; i++ {
		f.AddTherapist(fake.SampleTherapist(map[string]any{"plz": fmt.Sprintf("10%03d", i%1000)}))
	}
	c := neighbours.NewClients(cfg)
	f.ResetCounts()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		got, err := c.Therapists.ActiveInPLZPrefix(context.Background(), "10")
		if err != nil || len(got) != 3000 {
			b.Fatalf("%d therapists, %v", len(got), err)
		}
	}
	b.ReportMetric(float64(f.Count(fake.ListTherapists))/float64(b.N), "requests/op")
}
