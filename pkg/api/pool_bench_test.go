package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/benchtest"
	"github.com/curavani/matching/pkg/neighbours/fake"
)

// BenchmarkReadsWhileSending measures the API's plain reads while sends wait
// for a communication service that answers in 2 s, with the API's pool at
// the default DATABASE_MAX_CONNS of 4, against the same reads with no send
// in flight, interleaved in the same run (benchtest.Interleaved).
//
// Each chunk runs readsPerChunk reads (one search with its history, then the
// first page of anfragen, alternating) from 4 clients; a measured chunk
// first starts sendsInFlight sends of distinct anfragen and waits until the
// communication service holds their emails, then reads, then waits for the
// sends to end. A send that holds a pooled connection (and the anfrage's row
// lock) across the call starves the reads: they wait for the sends. Reported:
// read latency percentiles and reads/s on both sides and their ratio.
//
//	go test -run '^$' -bench ReadsWhileSending -benchtime 1x ./pkg/api/
func BenchmarkReadsWhileSending(b *testing.B) {
	const (
		rounds        = 6
		sendsInFlight = 8
		readsPerChunk = 120
		readers       = 4
	)
	e := newEnvWithPool(b, 4)
	var searches []int64
	var anfragen []int64
	for i := range rounds * sendsInFlight {
		tid := e.therapist(map[string]any{"email": fmt.Sprintf("slow%d@example.org", i)})
		pid := e.patient(nil)
		sid := scalar[int64](e, `INSERT INTO matching_service.platzsuche (patient_id) VALUES ($1) RETURNING id`, pid)
		aid := scalar[int64](e, `INSERT INTO matching_service.therapeutenanfrage (therapist_id, anfragegroesse) VALUES ($1, 1) RETURNING id`, tid)
		e.exec(`INSERT INTO matching_service.therapeut_anfrage_patient (therapeutenanfrage_id, platzsuche_id, patient_id, position_in_anfrage) VALUES ($1, $2, $3, 1)`, aid, sid, pid)
		searches, anfragen = append(searches, sid), append(anfragen, aid)
	}
	e.fake.SetServiceLatency(fake.CommunicationService, 2*time.Second)
	client := &http.Client{Timeout: time.Minute}
	read := func(i int) time.Duration {
		path := fmt.Sprintf("/api/platzsuchen/%d", searches[i%len(searches)])
		if i%2 == 1 {
			path = "/api/therapeutenanfragen?limit=20"
		}
		start := time.Now()
		resp, err := client.Get(e.srv.URL + path)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %v %v", path, resp, err)
		}
		resp.Body.Close()
		return time.Since(start)
	}
	chunk := func() (elapsed time.Duration, lat []time.Duration) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		next := make(chan int, readsPerChunk)
		for i := range readsPerChunk {
			next <- i
		}
		close(next)
		start := time.Now()
		for range readers {
			wg.Go(func() {
				for i := range next {
					d := read(i)
					mu.Lock()
					lat = append(lat, d)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return time.Since(start), lat
	}

	b.ResetTimer()
	for range b.N {
		var base, measured time.Duration
		var baseLat, measuredLat []time.Duration
		sent := 0
		for _, withSends := range benchtest.Interleaved(rounds) {
			if !withSends {
				d, lat := chunk()
				base, baseLat = base+d, append(baseLat, lat...)
				continue
			}
			batch := anfragen[sent : sent+sendsInFlight]
			sent += sendsInFlight
			emailsBefore := e.fake.Count(fake.CreateEmail)
			var sends sync.WaitGroup
			for _, aid := range batch {
				sends.Go(func() {
					resp, err := client.Post(e.srv.URL+sendPath(aid), "application/json", nil)
					if err != nil || resp.StatusCode != http.StatusOK {
						b.Errorf("send %d: %v %v", aid, resp, err)
						return
					}
					resp.Body.Close()
				})
			}
			// The sends are in flight once the first ones reach the slow
			// service (a send that waits for a connection has not yet).
			waitFor(b, func() bool { return e.fake.Count(fake.CreateEmail) > emailsBefore })
			d, lat := chunk()
			measured, measuredLat = measured+d, append(measuredLat, lat...)
			sends.Wait()
		}
		reads := float64(rounds * readsPerChunk)
		b.ReportMetric(reads/base.Seconds(), "base-reads/s")
		b.ReportMetric(reads/measured.Seconds(), "sending-reads/s")
		b.ReportMetric(base.Seconds()/measured.Seconds(), "ratio")
		reportPercentiles(b, measuredLat)
		slices.Sort(baseLat)
		b.ReportMetric(float64(baseLat[len(baseLat)*95/100])/float64(time.Millisecond), "base-p95-ms")
	}
}

func waitFor(b *testing.B, cond func() bool) {
	b.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("the sends never reached the communication service")
		}
	}
}
