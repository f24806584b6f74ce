package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

// BenchmarkPatientDeletedPublished is patient.deleted as deployed: the
// handler behind runtime.NewServer over HTTP, publishing each search's
// search.status_changed after commit through the HTTP sink to a K_SINK that
// answers 202 (an httptest server in this process, as a KafkaSink on the
// same node would be), against the same SQL transaction run directly with
// pgx. Both sides have pools of the same size (DATABASE_MAX_CONNS: the
// default 4, and 8) and benchConns concurrent senders; they run in
// interleaved chunks, and an HTTP chunk is timed until the publisher has
// sent its events. Reported: events/s of both, their ratio, and the share
// of the events published after commit (the rest would wait for the relay).
func BenchmarkPatientDeletedPublished(b *testing.B) {
	for _, conns := range []int32{4, 8} {
		b.Run(fmt.Sprintf("conns=%d", conns), func(b *testing.B) {
			ctx := context.Background()
			n := b.N
			_, url := storetest.New(b)
			pool, err := store.Open(ctx, url, conns)
			if err != nil {
				b.Fatal(err)
			}
			defer pool.Close()
			seedPatients(b, pool, 0, n)
			// The baseline's outbox rows stay unpublished: a database of
			// its own keeps them out of the publisher's way.
			_, baseURL := storetest.New(b)
			basePool, err := store.Open(ctx, baseURL, conns)
			if err != nil {
				b.Fatal(err)
			}
			defer basePool.Close()
			seedPatients(b, basePool, 0, n)

			var received atomic.Int64
			sinkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				received.Add(1)
				w.WriteHeader(http.StatusAccepted)
			}))
			defer sinkSrv.Close()
			sender := sink.NewHTTP(sinkSrv.URL, nil, 5*time.Second)
			defer sender.Close()
			// Logged as in production (JSON, INFO: a line per published event).
			log := slog.New(slog.NewJSONHandler(io.Discard, nil))
			pub := outbox.NewPublisher(pool, sender, log)
			srv := httptest.NewServer(server(handlers.Patient(pool, pub, nil)))
			defer srv.Close()
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchConns}}
			note := "[2025-08-11 09:44 (System)] Cancelled: Patient deleted from system"

			baseline := func(i int) error {
				return baselineTx(ctx, basePool, int64(i+1), note, time.Now().UTC())
			}
			viaHTTP := func(i int) error {
				req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(fmt.Appendf(nil, `{"patient_id":%d}`, i+1)))
				req.Header.Set("Ce-Specversion", "1.0")
				req.Header.Set("Ce-Id", strconv.Itoa(i))
				req.Header.Set("Ce-Source", "/bench")
				req.Header.Set("Ce-Type", "patient.deleted")
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
				return nil
			}
			b.ResetTimer()
			b.StopTimer()
			var base, took time.Duration
			done := map[bool]int{}   // events run so far, by side (true: HTTP)
			chunks := map[bool]int{} // chunks run so far, by side
			for _, isHTTP := range interleaved(benchRounds) {
				chunks[isHTTP]++
				from, to := done[isHTTP], n*chunks[isHTTP]/benchRounds
				fn, d := baseline, &base
				if isHTTP {
					fn, d = viaHTTP, &took
					b.StartTimer()
				}
				start := time.Now()
				_, err := run(to-from, func(i int) error { return fn(from + i) })
				if isHTTP && err == nil {
					// The chunk ends when its events are published too:
					// their publication must not run into the next chunk.
					err = pub.Flush(ctx)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				*d += elapsed
				done[isHTTP] = to
			}
			left, _, err := pub.Backlog(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if got := received.Load() + int64(left); got < int64(n) {
				b.Fatalf("%d events received and %d waiting, want at least %d", received.Load(), left, n)
			}
			httpRate := float64(n) / took.Seconds()
			baseRate := float64(n) / base.Seconds()
			b.ReportMetric(httpRate, "events/s")
			b.ReportMetric(baseRate, "baseline-events/s")
			b.ReportMetric(httpRate/baseRate, "ratio")
			b.ReportMetric(float64(n-left)/float64(n), "published-inline")
		})
	}
}
