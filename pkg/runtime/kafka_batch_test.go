package runtime_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/inbox"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/runtime"
)

// batchFailing is failing as a BatchHandler: it handles a batch's events
// one by one, in order, and stops at the first that fails, as
// inbox.Processor.HandleBatch does; it records the size of every batch.
type batchFailing struct {
	*failing
	sizes []int
}

func (b *batchFailing) HandleBatch(ctx context.Context, es []cloudevents.Event) []inbox.Handled {
	b.mu.Lock()
	b.sizes = append(b.sizes, len(es))
	b.mu.Unlock()
	out := make([]inbox.Handled, len(es))
	stopped := false
	for i, e := range es {
		if stopped {
			out[i] = inbox.Handled{Result: inbox.Result{Outcome: events.Failed, Err: inbox.ErrNotAttempted}}
			continue
		}
		in, outcome, err := b.Handle(ctx, e)
		out[i] = inbox.Handled{In: in, Result: inbox.Result{Outcome: outcome, Err: err}}
		stopped = outcome == events.Failed
	}
	return out
}

// In a batch each record keeps its own attempts: a record failing for an
// unclassified reason is retried (with the records behind it, which are not
// applied before it) until KAFKA_MAX_ATTEMPTS and then dead-lettered alone;
// one failing transiently once is retried and applies; the records before a
// failure are not handled again; the metrics count each record once per
// attempt at it.
func TestConsumer_inABatchEachRecordKeepsItsOwnAttemptsAndOrder(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	for _, id := range []string{"a", "b", "stuck", "c", "flaky", "d"} {
		kafkatest.Produce(t, p, "patient-events", "7", envelope(id, "patient.deleted", `{"patient_id":7}`))
	}
	f := &batchFailing{failing: &failing{
		errs:      map[string]error{"stuck": errors.New("bug: nil map in the handler"), "flaky": fault.Unavailablef("database unavailable")},
		times:     map[string]int{"flaky": 1},
		processed: make(chan string, 10),
	}}
	m := metrics.New(metrics.Options{})
	consume(t, brokers, "test-batch", runtime.ConsumerOptions{MaxAttempts: 3, BatchSize: 100, Metrics: m}, f)
	waitProcessed(t, f.failing, "a", "b", "c", "flaky", "d")

	f.mu.Lock()
	attempts, sizes := f.attempts, f.sizes
	f.mu.Unlock()
	if d := cmp.Diff([]string{"a", "b", "stuck", "stuck", "stuck", "c", "flaky", "flaky", "d"}, attempts); d != "" {
		t.Errorf("attempts (-want +got):\n%s (batches %v)", d, sizes)
	}
	if h := deadLetterHeaders(t, brokers, 1)[0]; h["ce_deadletterreason"] != "gave up after 3 attempts: bug: nil map in the handler" {
		t.Errorf("dead letter %v", h)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	s := metricstest.Parse(t, rec.Body)
	for outcome, want := range map[string]float64{"failed": 3, "exhausted": 1, "processed": 5} {
		if got := s.Value(t, "matching_events_consumed_total", "outcome="+outcome+",source=patient-events,type=patient.deleted"); got != want {
			t.Errorf("%s = %v, want %v", outcome, got, want)
		}
	}
}
