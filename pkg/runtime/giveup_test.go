package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/contracts/asyncapitest"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/sink"
)

// failing is a Handler that fails every attempt at an event id listed in
// errs with that error (its outcome as inbox.Processor gives it: Rejected
// for a permanent kind, else Failed), a given number of times (0: always),
// and processes every other event; it records the attempts and the
// deadline each attempt got.
type failing struct {
	mu        sync.Mutex
	errs      map[string]error
	times     map[string]int
	attempts  []string
	deadlines []time.Duration
	processed chan string
}

func (f *failing) Handle(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, in.ID)
	if dl, ok := ctx.Deadline(); ok {
		f.deadlines = append(f.deadlines, time.Until(dl))
	}
	if err, ok := f.errs[in.ID]; ok {
		if n, limited := f.times[in.ID]; !limited || n > 0 {
			if limited {
				f.times[in.ID]--
			}
			if fault.Permanent(err) {
				return in, events.Rejected, err
			}
			return in, events.Failed, err
		}
	}
	f.processed <- in.ID
	return in, events.Processed, nil
}

// consume runs a consumer of patient-events with opts (brokers, topic, dead
// letters and short backoffs filled in) until the test ends.
func consume(t *testing.T, brokers []string, group string, opts runtime.ConsumerOptions, h runtime.Handler) {
	t.Helper()
	dlq, err := sink.NewKafka(brokers, "matching-events-dlq")
	if err != nil {
		t.Fatal(err)
	}
	opts.Brokers, opts.Topic, opts.Group, opts.DeadLetter = brokers, "patient-events", group, dlq
	opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	c := runtime.NewConsumer(opts, h)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
		dlq.Close()
	})
}

func waitProcessed(t *testing.T, f *failing, want ...string) {
	t.Helper()
	for _, id := range want {
		select {
		case got := <-f.processed:
			if got != id {
				t.Fatalf("processed %s, want %s next", got, id)
			}
		case <-time.After(20 * time.Second):
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Fatalf("%s was not processed (attempts %v)", id, f.attempts)
		}
	}
}

func deadLetterHeaders(t *testing.T, brokers []string, n int) []map[string]string {
	t.Helper()
	var out []map[string]string
	for _, rec := range kafkatest.Read(t, brokers, "matching-events-dlq", n) {
		if err := asyncapitest.Validate(asyncapitest.FromConsumerMessage(rec)); err != nil {
			t.Errorf("dead letter outside the AsyncAPI document: %v", err)
		}
		h := map[string]string{}
		for _, rh := range rec.Headers {
			h[string(rh.Key)] = string(rh.Value)
		}
		out = append(out, h)
	}
	return out
}

// A failure nobody classified is retried KAFKA_MAX_ATTEMPTS times, then the
// record goes to the dead-letter topic with the reason and the partition
// moves on; the metrics count the attempts as failed and the last as
// exhausted.
func TestConsumer_givesUpOnAnUnclassifiedFailureAfterMaxAttempts(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "patient-events", "7", envelope("stuck", "patient.deleted", `{"patient_id":7}`))
	kafkatest.Produce(t, p, "patient-events", "7", envelope("behind", "patient.deleted", `{"patient_id":7}`))
	f := &failing{errs: map[string]error{"stuck": errors.New("bug: nil map in the handler")}, processed: make(chan string, 10)}
	m := metrics.New(metrics.Options{})
	consume(t, brokers, "test-give-up", runtime.ConsumerOptions{MaxAttempts: 3, Metrics: m}, f)
	waitProcessed(t, f, "behind")

	if d := cmp.Diff([]string{"stuck", "stuck", "stuck", "behind"}, f.attempts); d != "" {
		t.Errorf("attempts (-want +got):\n%s", d)
	}
	h := deadLetterHeaders(t, brokers, 1)[0]
	for k, v := range map[string]string{
		"ce_deadletterreason": "gave up after 3 attempts: bug: nil map in the handler",
		"ce_deadletterkind":   "unclassified",
		"ce_deadlettercode":   "500",
	} {
		if h[k] != v {
			t.Errorf("dead letter %s = %q, want %q", k, h[k], v)
		}
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	s := metricstest.Parse(t, rec.Body)
	for outcome, want := range map[string]float64{"failed": 2, "exhausted": 1, "processed": 1} {
		if got := s.Value(t, "matching_events_consumed_total", "outcome="+outcome+",source=patient-events,type=patient.deleted"); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
}

// An outage (the database or a neighbour unavailable) is retried however
// often it takes: it says nothing about the record.
func TestConsumer_retriesAnOutageBeyondMaxAttempts(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "patient-events", "7", envelope("waits", "patient.deleted", `{"patient_id":7}`))
	f := &failing{
		errs:      map[string]error{"waits": fault.Unavailablef("Database temporarily unavailable; try again")},
		times:     map[string]int{"waits": 6},
		processed: make(chan string, 10),
	}
	consume(t, brokers, "test-outage", runtime.ConsumerOptions{MaxAttempts: 2}, f)
	waitProcessed(t, f, "waits")
	if n := len(f.attempts); n != 7 {
		t.Errorf("%d attempts, want 7", n)
	}
}

// A deterministic failure of the service (an undefined column: a Defect)
// is dead-lettered at its first attempt, like poison input.
func TestConsumer_deadLettersAPermanentFailureAtOnce(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "patient-events", "7", envelope("defect", "patient.deleted", `{"patient_id":7}`))
	kafkatest.Produce(t, p, "patient-events", "7", envelope("next", "patient.deleted", `{"patient_id":7}`))
	f := &failing{
		errs:      map[string]error{"defect": &fault.Error{Kind: fault.Defect, Message: "Internal server error", Err: errors.New(`column "x" does not exist (SQLSTATE 42703)`)}},
		processed: make(chan string, 10),
	}
	consume(t, brokers, "test-defect", runtime.ConsumerOptions{}, f)
	waitProcessed(t, f, "next")
	if d := cmp.Diff([]string{"defect", "next"}, f.attempts); d != "" {
		t.Errorf("attempts (-want +got):\n%s", d)
	}
	h := deadLetterHeaders(t, brokers, 1)[0]
	if h["ce_deadletterkind"] != "defect" || h["ce_deadlettercode"] != "422" || h["ce_deadletterreason"] != "Internal server error" {
		t.Errorf("dead letter kind %q code %q reason %q", h["ce_deadletterkind"], h["ce_deadlettercode"], h["ce_deadletterreason"])
	}
}

// An attempt gets a deadline below the consumer group's rebalance timeout,
// so a rebalance never waits for it longer than the coordinator allows.
func TestConsumer_boundsAnAttemptBelowTheRebalanceTimeout(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	kafkatest.Produce(t, p, "patient-events", "7", envelope("one", "patient.deleted", `{"patient_id":7}`))
	cfg := runtime.SaramaConfig()
	cfg.Consumer.Group.Rebalance.Timeout = 8 * time.Second
	f := &failing{processed: make(chan string, 1)}
	consume(t, brokers, "test-deadline", runtime.ConsumerOptions{Config: cfg}, f)
	waitProcessed(t, f, "one")
	if len(f.deadlines) != 1 || f.deadlines[0] > 6*time.Second || f.deadlines[0] <= 0 {
		t.Errorf("attempt deadlines %v, want one of at most 6s (3/4 of the 8s rebalance timeout)", f.deadlines)
	}
}
