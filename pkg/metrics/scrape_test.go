package metrics_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/runtime"
)

// scrape GETs /metrics from h as Prometheus would and parses the text
// format with metricstest, which the functions' tests use as well.
func scrape(t testing.TB, h http.Handler) metricstest.Scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	return metricstest.Parse(t, rec.Body)
}

// instrumented wraps h the way the runtime is to call the metrics: time the
// handler, then ObserveConsumed with the function's topic.
func instrumented(m *metrics.Metrics, topic string, h runtime.Handler) runtime.Handler {
	return runtime.HandlerFunc(func(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
		start := time.Now()
		in, outcome, err := h.Handle(ctx, e)
		m.ObserveConsumed(topic, in.Type, outcome, time.Since(start))
		return in, outcome, err
	})
}
