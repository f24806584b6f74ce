// Package metricstest reads a function's GET /metrics the way Prometheus
// does, for tests that assert exact values and labels.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Scrape is one scrape, parsed: metric families by name.
type Scrape map[string]*dto.MetricFamily

// Get scrapes url (a function's …/metrics) over HTTP.
func Get(t testing.TB, url string) Scrape {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: status %d: %s", url, resp.StatusCode, b)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: Content-Type %q, want the text format", url, ct)
	}
	return Parse(t, resp.Body)
}

// Parse reads the Prometheus text format.
func Parse(t testing.TB, r io.Reader) Scrape {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return families
}

// Series returns every sample of the family name, keyed by its labels
// ("k=v,k=v", sorted; "" without labels); nil when the family is absent. A
// histogram gives one key per bucket (le among the sorted labels, e.g.
// "le=3600") and the keys <labels>,count and <labels>,sum ("count" and
// "sum" without labels).
func (s Scrape) Series(name string) map[string]float64 {
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

// NonZero is Series without the samples that are 0.
func (s Scrape) NonZero(name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range s.Series(name) {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

// Value is the one sample of name with exactly the given labels; the test
// fails when there is none.
func (s Scrape) Value(t testing.TB, name, labels string) float64 {
	t.Helper()
	v, ok := s.Series(name)[labels]
	if !ok {
		t.Fatalf("%s{%s} not scraped; have %v", name, labels, s.Series(name))
	}
	return v
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "," + b
}
