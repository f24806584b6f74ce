package devstack

// Benchmarks of the local stack, for the numbers of issue 5. They are not
// part of `make test`; run them with
//
//	go test ./pkg/devstack -run '^$' -bench PatientDeleted -benchtime 1000x
//	go test ./pkg/devstack -run '^$' -bench Start -benchtime 20x
//	go test ./pkg/devstack -run '^$' -bench PatientUpdated -benchtime 200x
//
// (-benchtime 1000x: the latency percentiles over 1,000 events, the
// throughput over a burst of 1,000). Each reports against a baseline
// measured in the same run on the same broker and database; the absolute
// numbers move with the load on the machine, the ratios much less.

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/outbox"
	"github.com/curavani/matching/pkg/sink"
)

// BenchmarkStart measures Start until ready (every function answering,
// every consumer in its group) on a migrated database, with the demo data
// reset and seeded as make run does, and Stop. The baseline is the embedded
// broker alone.
func BenchmarkStart(b *testing.B) {
	s := startStack(b, Options{Seed: true})
	url := s.DatabaseURL
	s.Stop()
	var ready, stop, broker time.Duration
	for b.Loop() {
		begin := time.Now()
		st, err := Start(context.Background(), Options{DatabaseURL: url, Reset: true, Seed: true, Logging: s.opts.Logging})
		if err != nil {
			b.Fatal(err)
		}
		ready += time.Since(begin)
		begin = time.Now()
		st.Stop()
		stop += time.Since(begin)

		begin = time.Now()
		k, err := localkafka.Start("127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		broker += time.Since(begin)
		k.Close()
	}
	n := float64(b.N)
	b.ReportMetric(ready.Seconds()*1000/n, "ms-to-ready")
	b.ReportMetric(stop.Seconds()*1000/n, "ms-to-stop")
	b.ReportMetric(broker.Seconds()*1000/n, "ms-broker-alone")
}

// arrivals records when each key's first event of a type arrived on a topic.
type arrivals struct {
	mu      sync.Mutex
	at      map[string]time.Time
	waiting map[string]chan struct{}
}

func watch(b *testing.B, brokers []string, topic, eventType string) *arrivals {
	a := &arrivals{at: map[string]time.Time{}, waiting: map[string]chan struct{}{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		_ = follow(ctx, brokers, topic, true, func(m *sarama.ConsumerMessage) {
			now := time.Now()
			for _, h := range m.Headers {
				if string(h.Key) == "ce_type" && eventType != "" && string(h.Value) != eventType {
					return
				}
			}
			k := string(m.Key)
			a.mu.Lock()
			defer a.mu.Unlock()
			if _, seen := a.at[k]; seen {
				return
			}
			a.at[k] = now
			if ch, ok := a.waiting[k]; ok {
				close(ch)
			}
		})
	}()
	return a
}

// wait blocks until key has arrived and returns when.
func (a *arrivals) wait(b *testing.B, key string) time.Time {
	a.mu.Lock()
	if at, ok := a.at[key]; ok {
		a.mu.Unlock()
		return at
	}
	ch := make(chan struct{})
	a.waiting[key] = ch
	a.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		b.Fatalf("no event for key %s", key)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.at[key]
}

func (a *arrivals) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.at)
}

// searches inserts an aktiv search for patients first … first+n-1.
func searches(b *testing.B, s *testStack, first, n int) {
	s.exec(`INSERT INTO matching_service.platzsuche (patient_id, status)
	        SELECT g, 'aktiv' FROM generate_series($1::int, $1::int + $2::int - 1) g`, first, n)
}

// BenchmarkPatientDeletedLatency measures, one event at a time, the time
// from producing patient.deleted (envelope form) to patient-events until
// its search.status_changed arrives on matching-events: the Kafka-direct
// consumer, the cascade's transaction, the inline publish through the Kafka
// sink and a consumer of matching-events. The baseline is the broker's own
// round trip: produce to a topic and receive it with the same kind of
// consumer.
func BenchmarkPatientDeletedLatency(b *testing.B) {
	s := startStack(b, Options{})
	const first = 100000
	searches(b, s, first, b.N)
	out := watch(b, s.Brokers, "matching-events", "search.status_changed")
	echo := watch(b, s.Brokers, "bench-echo", "")
	p, err := sarama.NewSyncProducer(s.Brokers, producerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	// The echo topic exists before the clock runs.
	if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "bench-echo", Key: sarama.StringEncoder("warm"), Value: sarama.StringEncoder("{}")}); err != nil {
		b.Fatal(err)
	}
	echo.wait(b, "warm")

	stack := make([]time.Duration, 0, b.N)
	base := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// The search id is the row's serial id: 1 … b.N in patient order.
		msg, _, err := record(context.Background(), "patient.deleted", fmt.Sprintf(`{"patient_id":%d}`, first+i), FormEnvelope, "")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, _, err := p.SendMessage(msg); err != nil {
			b.Fatal(err)
		}
		stack = append(stack, out.wait(b, strconv.Itoa(i+1)).Sub(start))

		key := strconv.Itoa(i)
		start = time.Now()
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "bench-echo", Key: sarama.StringEncoder(key), Value: msg.Value}); err != nil {
			b.Fatal(err)
		}
		base = append(base, echo.wait(b, key).Sub(start))
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	b.ReportMetric(ms(percentile(stack, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(stack, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(base, 50)), "kafka-p50-ms")
	b.ReportMetric(ms(percentile(base, 99)), "kafka-p99-ms")
	b.ReportMetric(float64(percentile(stack, 50))/float64(percentile(base, 50)), "p50-vs-kafka")
}

func percentile(ds []time.Duration, p int) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// BenchmarkPatientDeletedThroughput measures the sustained rate of
// patient-deleted in Kafka-direct mode: b.N patient.deleted events wait in
// patient-events (3 partitions) while the function is down; it is started
// and the rate is counted from the first to the last search.status_changed
// arriving on matching-events. The baseline is the same handler called
// directly, one event after the other, with the same database and sink (no
// Kafka consumer): what the transport costs or gains.
func BenchmarkPatientDeletedThroughput(b *testing.B) {
	s := startStack(b, Options{})
	const first = 100000
	searches(b, s, first, 2*b.N)
	s.stopFunction("patient-deleted")
	out := watch(b, s.Brokers, "matching-events", "search.status_changed")
	produce(b, s.Brokers, burst(b, "patient.deleted", "patient_id", first, b.N))

	b.ResetTimer()
	if err := s.restartFunction(context.Background(), "patient-deleted"); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for out.count() < b.N {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d events out", out.count(), b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	b.StopTimer()
	var firstAt, lastAt time.Time
	out.mu.Lock()
	for _, at := range out.at {
		if firstAt.IsZero() || at.Before(firstAt) {
			firstAt = at
		}
		if at.After(lastAt) {
			lastAt = at
		}
	}
	out.mu.Unlock()
	rate := float64(b.N) / lastAt.Sub(firstAt).Seconds()

	// Baseline: the handler of patient-deleted called directly.
	sender, err := sink.NewKafka(s.Brokers, "matching-events")
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()
	log := slog.New(slog.DiscardHandler)
	h := handlers.Patient(s.pool, outbox.NewPublisher(s.pool, sender, log), log)
	begin := time.Now()
	for i := range b.N {
		e := cloudevents.NewEvent()
		e.SetID(fmt.Sprintf("direct-%d", i))
		e.SetSource("bench")
		e.SetType("patient.deleted")
		_ = e.SetData(cloudevents.ApplicationJSON, map[string]any{"patient_id": first + b.N + i})
		if _, outcome, err := h.Handle(context.Background(), e); err != nil || outcome != "processed" {
			b.Fatalf("direct: %s %v", outcome, err)
		}
	}
	direct := float64(b.N) / time.Since(begin).Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(direct, "direct-events/s")
	b.ReportMetric(rate/direct, "kafka-vs-direct")
}

// BenchmarkPatientUpdatedRecheckLatency measures, one change at a time, the
// time from a patient's change at the patient service until her unsent
// anfrage has been re-checked and its therapeutenanfrage.composition_changed
// arrives on matching-events (enhancements A3's "within 1 s"): the PUT at
// the fake service, which publishes patient.updated as the real one does,
// the Kafka-direct consumer, the fetch of her record, the copy's
// transaction, the re-check's distance reads and transaction, the inline
// publish through the Kafka sink and a consumer of matching-events. Before
// each change (not timed) she accepts any therapist again and a new anfrage
// holds her and one other patient; the change makes her want a male
// therapist, and the anfrage goes to a female one. The baseline is the
// broker's own round trip, as in BenchmarkPatientDeletedLatency.
func BenchmarkPatientUpdatedRecheckLatency(b *testing.B) {
	s := startStack(b, Options{})
	tid := s.Neighbours.AddTherapist(fake.SampleTherapist(nil))
	pid := s.Neighbours.AddPatient(fake.SamplePatient(nil))
	other := s.Neighbours.AddPatient(fake.SamplePatient(nil))
	for _, id := range []int64{pid, other} {
		s.call("POST", "/api/platzsuchen", map[string]any{"patient_id": id}, 201)
	}
	out := watch(b, s.Brokers, "matching-events", "therapeutenanfrage.composition_changed")
	echo := watch(b, s.Brokers, "bench-echo", "")
	p, err := sarama.NewSyncProducer(s.Brokers, producerConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	patient := fmt.Sprintf("/api/patients/%d", pid)
	preference := func(v string) map[string]any { return map[string]any{"bevorzugtes_therapeutengeschlecht": v} }

	stack := make([]time.Duration, 0, b.N)
	base := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		s.neighbour("PUT", patient, preference("Egal"), 200)
		eventually(b, 10*time.Second, "her copy accepts any therapist again", func() bool {
			return scalar[string](s, `SELECT bevorzugtes_therapeutengeschlecht FROM matching_service.patient_copy WHERE patient_id = $1`, pid) == "Egal" &&
				scalar[int](s, `SELECT count(*) FROM matching_service.recheck_request`) == 0
		})
		r := s.call("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": tid, "plz_prefix": "10"}, 201)
		aid := fmt.Sprint(r["anfrage_id"])
		// The anfrage's created event is out: composition_changed, of the
		// same key, would otherwise wait behind it for the relay (the
		// outbox keeps a key's order across processes).
		eventually(b, 10*time.Second, "the created event published", func() bool {
			return scalar[int](s, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`) == 0
		})
		b.StartTimer()

		start := time.Now()
		s.neighbour("PUT", patient, preference("Männlich"), 200)
		stack = append(stack, out.wait(b, aid).Sub(start))

		key := strconv.Itoa(i)
		start = time.Now()
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "bench-echo", Key: sarama.StringEncoder(key), Value: sarama.StringEncoder("{}")}); err != nil {
			b.Fatal(err)
		}
		base = append(base, echo.wait(b, key).Sub(start))

		b.StopTimer()
		s.call("DELETE", "/api/therapeutenanfragen/"+aid, nil, 200)
		b.StartTimer()
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return d.Seconds() * 1000 }
	b.ReportMetric(ms(percentile(stack, 50)), "p50-ms")
	b.ReportMetric(ms(percentile(stack, 99)), "p99-ms")
	b.ReportMetric(ms(percentile(stack, 100)), "max-ms")
	b.ReportMetric(ms(percentile(base, 50)), "kafka-p50-ms")
}
