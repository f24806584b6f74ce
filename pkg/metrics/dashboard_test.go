package metrics_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/store/storetest"
)

// dashboardFile is the Grafana dashboard shipped in k8s/base.
const dashboardFile = "../../k8s/base/dashboards/matching.json"

// exported scrapes a registry that has seen every kind of observation the
// code makes — publishing, consumption, lag, the outbox backlog and the
// business counters from a database — and returns each series name it
// exports with its label names (histograms as _bucket with le, _sum, _count).
func exported(t *testing.T) map[string][]string {
	t.Helper()
	pool, _ := storetest.New(t)
	m := metrics.New(metrics.Options{})
	m.Observer(events.AnfrageCreated, nil, time.Millisecond)
	m.Observer(events.AnfrageSent, errors.New("sink down"), time.Millisecond)
	m.ObserveConsumed("patient-events", events.PatientDeleted, events.Processed, time.Millisecond)
	m.SetLag("patient-events", 0, 0)
	m.ObserveGroupCommit("patient-events", 3)
	m.CollectBacklog(func(context.Context) (int, time.Duration, error) { return 0, 0, nil })
	m.CollectBusiness(pool)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	out := map[string][]string{}
	add := func(name string, labels ...string) {
		for _, l := range labels {
			if !slices.Contains(out[name], l) {
				out[name] = append(out[name], l)
			}
		}
		if _, ok := out[name]; !ok {
			out[name] = []string{}
		}
	}
	for name, f := range metricstest.Parse(t, rec.Body) {
		var labels []string
		for _, mt := range f.GetMetric() {
			for _, l := range mt.GetLabel() {
				labels = append(labels, l.GetName())
			}
		}
		if f.GetType() == dto.MetricType_HISTOGRAM {
			add(name+"_bucket", append(labels, "le")...)
			add(name+"_sum", labels...)
			add(name+"_count", labels...)
			continue
		}
		add(name, labels...)
	}
	return out
}

// Every query of the dashboard parses as PromQL and names only series and
// labels the code exports: the exported set is what a registry fed by every
// instrumented code path serves, not a list kept by hand.
func TestDashboard_queriesParseAndNameOnlyExportedMetricsAndLabels(t *testing.T) {
	t.Parallel()
	queries := metricstest.DashboardQueries(t, dashboardFile)
	if len(queries) < 15 {
		t.Fatalf("%d queries in the dashboard", len(queries))
	}
	series := exported(t)
	for _, name := range []string{"matching_events_consumed_total", "matching_anfragen_sent_total", "matching_consumer_lag_messages"} {
		if _, ok := series[name]; !ok {
			t.Fatalf("the registry does not export %s: the fixture misses a code path", name)
		}
	}
	p := parser.NewParser(parser.Options{})
	for _, q := range queries {
		expr, err := p.ParseExpr(q.Expr)
		if err != nil {
			t.Errorf("panel %q: %q does not parse: %v", q.Panel, q.Expr, err)
			continue
		}
		for _, problem := range unknownNames(expr, series) {
			t.Errorf("panel %q: %s", q.Panel, problem)
		}
	}
}

// unknownNames lists the series, matcher labels and grouping labels of expr
// that series does not export.
func unknownNames(expr parser.Expr, series map[string][]string) []string {
	var problems []string
	labelsUnder := func(n parser.Node) []string {
		var ls []string
		parser.Inspect(n, func(c parser.Node, _ []parser.Node) error {
			if vs, ok := c.(*parser.VectorSelector); ok {
				ls = append(ls, series[vs.Name]...)
			}
			return nil
		})
		return ls
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		switch x := n.(type) {
		case *parser.VectorSelector:
			labels, ok := series[x.Name]
			if !ok {
				problems = append(problems, "series "+x.Name+" is not exported")
				return nil
			}
			for _, m := range x.LabelMatchers {
				if m.Name != "__name__" && !slices.Contains(labels, m.Name) {
					problems = append(problems, "series "+x.Name+" has no label "+m.Name)
				}
			}
		case *parser.AggregateExpr:
			have := labelsUnder(x.Expr)
			for _, g := range x.Grouping {
				if !slices.Contains(have, g) {
					problems = append(problems, "grouping label "+g+" is on no series of "+x.Expr.String())
				}
			}
		}
		return nil
	})
	return problems
}
