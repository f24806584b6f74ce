package metrics_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/runtime"
)

// scraped is one scrape of /metrics, parsed.
type scraped map[string]*dto.MetricFamily

// scrape GETs /metrics from h as Prometheus would and parses the text format.
func scrape(t testing.TB, h http.Handler) scraped {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics: status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// series returns every sample of the family name, keyed by its labels
// ("k=v,k=v", sorted; "" without labels). A histogram gives one key per
// bucket (le among the sorted labels) and the keys <labels>,count and
// <labels>,sum.
func (s scraped) series(name string) map[string]float64 {
	f, ok := s[name]
	if !ok {
		return nil
	}
	out := map[string]float64{}
	for _, m := range f.GetMetric() {
		var pairs []string
		for _, l := range m.GetLabel() {
			pairs = append(pairs, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(pairs)
		key := strings.Join(pairs, ",")
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			out[key] = m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			out[key] = m.GetGauge().GetValue()
		case dto.MetricType_HISTOGRAM:
			h := m.GetHistogram()
			for _, b := range h.GetBucket() {
				withLE := append([]string{fmt.Sprintf("le=%g", b.GetUpperBound())}, pairs...)
				sort.Strings(withLE)
				out[strings.Join(withLE, ",")] = float64(b.GetCumulativeCount())
			}
			out[join(key, "count")] = float64(h.GetSampleCount())
			out[join(key, "sum")] = h.GetSampleSum()
		default:
			out[key] = m.GetUntyped().GetValue()
		}
	}
	return out
}

// value is the one sample of name with exactly the given labels.
func (s scraped) value(t testing.TB, name, labels string) float64 {
	t.Helper()
	v, ok := s.series(name)[labels]
	if !ok {
		t.Fatalf("%s{%s} not scraped; have %v", name, labels, s.series(name))
	}
	return v
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
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
