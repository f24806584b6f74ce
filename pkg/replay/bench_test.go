package replay_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/replay"
	"github.com/curavani/matching/pkg/store/storetest"
)

// BenchmarkReplay_10000Events times the replay of a window of 10,000
// consumed patient.deleted events, each cancelling a search (and 10,000
// searches created before it): the scratch database created and migrated,
// the state at the window's start loaded, every event re-applied with
// today's handler, the result compared. The recording (about 10,000
// transactions) is not timed.
func BenchmarkReplay_10000Events(b *testing.B) {
	const n = 10000
	pool, _ := storetest.New(b)
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO matching_service.platzsuche (patient_id, status) SELECT g, 'aktiv' FROM generate_series(1, $1) g`, n); err != nil {
		b.Fatal(err)
	}
	var from, to time.Time
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&from); err != nil {
		b.Fatal(err)
	}
	p := handlers.Patient(pool, nil, nil)
	for i := range n {
		in := events.Inbound{Type: events.PatientDeleted, ID: fmt.Sprint(i), Source: "/bench", DedupeKey: fmt.Sprintf("ce:/bench#%d", i),
			Payload: []byte(fmt.Sprintf(`{"patient_id":%d}`, i+1)), At: time.Now().UTC().Truncate(time.Microsecond)}
		if outcome, err := p.Process(ctx, in); err != nil || outcome != events.Processed {
			b.Fatalf("record event %d: %s %v", i, outcome, err)
		}
	}
	if err := pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&to); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		r, err := replay.Run(ctx, replay.Options{Source: pool, From: from, To: to})
		if err != nil {
			b.Fatal(err)
		}
		if r.Events != n || len(r.Differences) != 0 {
			b.Fatalf("replayed %d events with %d differences", r.Events, len(r.Differences))
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/replay")
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
