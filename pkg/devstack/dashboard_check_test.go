package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/curavani/matching/pkg/metrics/metricstest"
)

// TestDashboardCheck is make dashboard-check: the stack make run starts
// (demo data, free ports), scraped every second by a real Prometheus (the
// binary DASHBOARD_CHECK_PROMETHEUS names) from before the README's story
// until after it, then every query of the Grafana dashboard evaluated
// through Prometheus' HTTP API. A query that returns no series, or only NaN,
// fails: its panel would show nothing to an operator.
//
// Prometheus starts before the story and scrapes every second, so the
// increase() and rate() windows hold many samples, and the story's changes
// happen inside them.
func TestDashboardCheck(t *testing.T) {
	prom := os.Getenv("DASHBOARD_CHECK_PROMETHEUS")
	if prom == "" {
		t.Skip("set DASHBOARD_CHECK_PROMETHEUS to a prometheus binary (make dashboard-check does)")
	}
	queries := metricstest.DashboardQueries(t, "../../k8s/base/dashboards/matching.json")
	state := filepath.Join(t.TempDir(), "state.json")
	s := startStack(t, Options{Seed: true, StateFile: state})

	targets := []string{strings.TrimPrefix(s.APIURL, "http://")}
	for _, f := range Functions {
		targets = append(targets, strings.TrimPrefix(s.functionURL(f), "http://"))
	}
	promURL := startPrometheus(t, prom, targets)
	eventually(t, 30*time.Second, "Prometheus scraping every function", func() bool {
		up := promQuery(t, promURL, "sum(up)")
		return len(up) == 1 && up[0] == float64(len(targets))
	})

	// The README's story, and its "More to try" events.
	s.call("POST", "/api/platzsuchen", map[string]any{"patient_id": 10}, 201)
	s.call("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut", map[string]any{"therapist_id": 3, "plz_prefix": "52"}, 201)
	s.call("POST", "/api/therapeutenanfragen/2/senden", nil, 200)
	s.call("PUT", "/api/therapeutenanfragen/2/antwort", map[string]any{"patient_responses": map[string]any{
		"2": "angenommen", "7": "abgelehnt_Kapazitaet", "10": "angenommen"}}, 200)
	s.publish("patient.deleted", `{"patient_id":4}`, FormEnvelope)
	st, err := ReadState(state)
	if err != nil {
		t.Fatal(err)
	}
	cmd := FollowUpCommand(context.Background(), st, nil)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("follow-up job: %v\n%s", err, out.String())
	}
	// A consumer's series appear with its first event, so increase() and
	// rate() only see the events after that: wait until Prometheus has the
	// patient consumer's series before the README's further events.
	eventually(t, 30*time.Second, "Prometheus holding the patient consumer's series", func() bool {
		return len(promQuery(t, promURL, `matching_events_consumed_total{source="patient-events"}`)) > 0
	})
	s.publish("therapist.blocked", `{"therapist_id":12,"reason":"Praxis geschlossen"}`, FormEnvelope)
	s.publish("email.sent", `{"email_id":2}`, FormCloudEvent)
	s.publish("patient.deleted", `{"patient_id":"vier"}`, FormEnvelope)

	eventually(t, 30*time.Second, "every event published and consumed", func() bool {
		return scalar[int](s, `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`) == 0 &&
			scalar[int](s, `SELECT count(*) FROM matching_service.processed_events`) >= 3
	})
	// The business counters are read from the database and cached for up to
	// metrics.DefaultCacheTTL: wait until Prometheus has scraped the story's.
	eventually(t, 60*time.Second, "Prometheus holding the story's business counters", func() bool {
		atLeast := func(expr string, n float64) bool {
			v := promQuery(t, promURL, expr)
			return len(v) == 1 && v[0] >= n
		}
		return atLeast("max(matching_anfragen_created_total)", 2) &&
			atLeast("max(matching_anfrage_response_time_seconds_count)", 1) &&
			atLeast("max(matching_follow_up_calls_scheduled_total)", 1)
	})

	for _, q := range queries {
		values := promQuery(t, promURL, q.Expr)
		numbers := 0
		for _, v := range values {
			if !math.IsNaN(v) {
				numbers++
			}
		}
		if numbers == 0 {
			t.Errorf("panel %q: %s returns %d series, none with a number", q.Panel, q.Expr, len(values))
			continue
		}
		t.Logf("panel %q: %s → %v", q.Panel, q.Expr, values)
	}
}

// startPrometheus runs prom scraping the targets' /metrics every second
// until the test ends, and returns its base URL.
func startPrometheus(t *testing.T, prom string, targets []string) string {
	t.Helper()
	dir := t.TempDir()
	quoted := make([]string, len(targets))
	for i, tg := range targets {
		quoted[i] = strconv.Quote(tg)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: matching
    metrics_path: /metrics
    static_configs:
      - targets: [%s]
`, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, prom,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr)
	logFile, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", prom, err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		logFile.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("prometheus log:\n%s", b)
			}
		}
	})
	base := "http://" + addr
	eventually(t, 30*time.Second, "Prometheus ready", func() bool {
		resp, err := http.Get(base + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return base
}

// promQuery evaluates expr now through Prometheus' HTTP API and returns the
// value of each series of the result.
func promQuery(t *testing.T, base, expr string) []float64 {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	defer resp.Body.Close()
	var out struct {
		Status string
		Error  string
		Data   struct {
			ResultType string
			Result     []struct {
				Value [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	if out.Status != "success" {
		t.Fatalf("query %s: %s %s", expr, out.Status, out.Error)
	}
	var values []float64
	for _, r := range out.Data.Result {
		s, _ := r.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			v = math.NaN()
		}
		values = append(values, v)
	}
	return values
}
