package runtime_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/benchtest"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/runtime"
)

const benchSenders = 8

// load posts n binary CloudEvents to url from benchSenders goroutines and
// returns the wall time.
func load(client *http.Client, url string, n int) (time.Duration, error) {
	body := []byte(`{"eventId":"x","eventType":"patient.deleted","version":"1.0","producer":"patient-service","payload":{"patient_id":7,"id":7}}`)
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for range benchSenders {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
				req.Header.Set("Ce-Specversion", "1.0")
				req.Header.Set("Ce-Id", "partition:0/offset:"+strconv.FormatInt(i, 10))
				req.Header.Set("Ce-Source", "/kafka/patient-events")
				req.Header.Set("Ce-Type", "dev.knative.kafka.event")
				req.Header.Set("Ce-Partitionkey", "7")
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Store(fmt.Errorf("status %d", resp.StatusCode))
					return
				}
			}
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// BenchmarkServer compares the runtime's CloudEvents path (body limit,
// binary-mode decoding, outcome mapping, logging disabled at INFO) with a
// no-op handler against a bare net/http handler that reads the body and
// answers 200, on the same load: keep-alive connections from benchSenders
// concurrent clients over loopback.
func BenchmarkServer(b *testing.B) {
	noop := runtime.HandlerFunc(func(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
		return events.Inbound{Type: e.Type(), ID: e.ID()}, events.Processed, nil
	})
	ce := httptest.NewServer(runtime.NewServer(runtime.ServerOptions{Handler: noop}))
	defer ce.Close()
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	defer bare.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}

	n := b.N
	var ceTook, bareTook time.Duration
	done := map[bool]int{}
	chunks := map[bool]int{}
	b.ResetTimer()
	b.StopTimer()
	// Interleaved chunks, so that other load hits both sides alike.
	for _, isCE := range benchtest.Interleaved(benchtest.Rounds) {
		chunks[isCE]++
		from, to := done[isCE], n*chunks[isCE]/benchtest.Rounds
		url, d := bare.URL, &bareTook
		if isCE {
			url, d = ce.URL, &ceTook
			b.StartTimer()
		}
		took, err := load(client, url, to-from)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		*d += took
		done[isCE] = to
	}
	ceRate, bareRate := float64(n)/ceTook.Seconds(), float64(n)/bareTook.Seconds()
	b.ReportMetric(ceRate, "events/s")
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(ceRate/bareRate, "ratio")
}

// BenchmarkServer_metrics is the cost of the instrumentation on the real
// HTTP path: the runtime's server with a no-op handler, once with metrics
// (every event counted by source, type and outcome and timed, as Run wires
// it) and once without (Metrics nil), on the same load: keep-alive
// connections from benchSenders concurrent clients over loopback, in
// metricsRounds pairs of adjacent chunks (ABBA order). ratio is the
// instrumented server's events/s over the bare one's over the whole run;
// median-ratio is the median of the pairs' ratios, which a burst of load
// from elsewhere on this shared machine (it hits one chunk of one pair)
// does not move. Target ≥ 0.95.
func BenchmarkServer_metrics(b *testing.B) {
	noop := runtime.HandlerFunc(func(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
		return events.Inbound{Type: events.PatientDeleted, ID: e.ID()}, events.Processed, nil
	})
	m := metrics.New(metrics.Options{})
	bare := httptest.NewServer(runtime.NewServer(runtime.ServerOptions{Handler: noop}))
	defer bare.Close()
	instrumented := httptest.NewServer(runtime.NewServer(runtime.ServerOptions{
		Handler: noop, Metrics: m, Source: "patient-events",
	}))
	defer instrumented.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}

	chunk := max(b.N/metricsRounds, 1)
	var withTook, bareTook time.Duration
	ratios := make([]float64, 0, metricsRounds)
	pair := map[bool]time.Duration{}
	b.ResetTimer()
	b.StopTimer()
	for r, isWith := range benchtest.Interleaved(metricsRounds) {
		url := bare.URL
		if isWith {
			url = instrumented.URL
			b.StartTimer()
		}
		took, err := load(client, url, chunk)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if isWith {
			withTook += took
		} else {
			bareTook += took
		}
		pair[isWith] = took
		if r%2 == 1 { // a pair is complete: its bare time over its instrumented time
			ratios = append(ratios, pair[false].Seconds()/pair[true].Seconds())
		}
	}
	n := float64(chunk * metricsRounds)
	withRate, bareRate := n/withTook.Seconds(), n/bareTook.Seconds()
	slices.Sort(ratios)
	b.ReportMetric(withRate, "events/s")
	b.ReportMetric(bareRate, "bare-events/s")
	b.ReportMetric(withRate/bareRate, "ratio")
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
}

// metricsRounds is how many pairs of chunks BenchmarkServer_metrics runs.
const metricsRounds = 64
