package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/contracts/openapitest"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/runtime/logtest"
	"github.com/curavani/matching/pkg/store/storetest"
)

// The patient's name, which must never reach a log line, and the database
// password, which must not either.
const (
	patientFirstName = "Zacharias"
	patientLastName  = "Quellenstein-Obradović"
	dbPassword       = "pw-Lz8q-never-logged"
)

// sinkServer accepts every CloudEvent POSTed to it and counts them by type.
type sinkServer struct {
	mu     sync.Mutex
	byType map[string]float64
}

func (s *sinkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	s.mu.Lock()
	s.byType[r.Header.Get("Ce-Type")]++
	s.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

func (s *sinkServer) received() map[string]float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]float64{}
	for k, v := range s.byType {
		out[k] = v
	}
	return out
}

func total(byType map[string]float64) float64 {
	n := 0.0
	for _, v := range byType {
		n += v
	}
	return n
}

// withPassword gives a database URL the password the logs are searched
// for; a URL that already has one keeps it, and that one is searched for.
func withPassword(t *testing.T, raw string) (string, string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		t.Fatalf("test database URL %q has no user", raw)
	}
	if pw, ok := u.User.Password(); ok {
		return raw, pw
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	return u.String(), dbPassword
}

// apiProcess is one run of the function, as its main starts it, on a
// listener of its own.
type apiProcess struct {
	base string
	stop func()
}

func startAPI(t *testing.T, cfg spec, log io.Writer) *apiProcess {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts := options(cfg, func(string) (string, bool) { return "", false })
	opts.Listener = ln
	opts.Log = slog.New(slog.NewJSONHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runtime.Run(ctx, api.Function(cfg.Settings), opts) }()
	p := &apiProcess{base: "http://" + ln.Addr().String()}
	p.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("run did not stop")
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.base + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API did not come up: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// call sends a JSON request and checks its status; it returns the body.
func (p *apiProcess) call(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, p.base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := openapitest.Client(t).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

func id(t *testing.T, v any) int64 {
	t.Helper()
	f, ok := v.(float64)
	if !ok {
		t.Fatalf("%v (%T) is not an id", v, v)
	}
	return int64(f)
}

// The anfrage API as its main runs it: API calls that create, send (once
// failing) and answer an anfrage show up on /metrics as exact publish
// counters by type and business counters; a new process on the same
// database reports the same business counters (they are read from the
// database), while its publish counters start again at zero. The JSON log
// has the anfrage's lifecycle at INFO with type, id and key, every
// publication at INFO with type, id and key, the failed send at ERROR with
// its error chain, and neither the patient's name nor the database
// password anywhere.
func TestAPI_metricsAndLogsOfAnAnfragesLife(t *testing.T) {
	t.Parallel()
	pool, rawURL := storetest.New(t)
	dbURL, secret := withPassword(t, rawURL)
	f, nb := fake.Start(t)
	sink := &sinkServer{byType: map[string]float64{}}
	sinkSrv := httptest.NewServer(sink)
	t.Cleanup(sinkSrv.Close)

	cfg := spec{
		Common: config.Common{
			Database: config.Database{URL: dbURL, MaxConns: 4},
			Logging:  config.Logging{Level: "DEBUG", Format: "json"},
			Kafka:    config.Kafka{MatchingEventsTopic: "matching-events", DLQTopic: "matching-events-dlq"},
			Sink:     config.Sink{URL: sinkSrv.URL},
			Port:     8080,
		},
		Settings: api.Settings{
			Neighbours: nb,
			Matching: config.Matching{
				MinAnfrageSize: 1, MaxAnfrageSize: 6, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
				CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00",
				Timezone: "Europe/Berlin",
			},
		},
	}
	var logs logtest.Buffer
	p := startAPI(t, cfg, &logs)

	patient := f.AddPatient(fake.SamplePatient(map[string]any{
		"vorname": patientFirstName, "nachname": patientLastName, "email": "zq@example.org",
	}))
	therapist := f.AddTherapist(fake.SampleTherapist(map[string]any{"email": "praxis@example.org"}))
	p.call(t, "POST", "/api/platzsuchen", map[string]any{"patient_id": patient}, 201)
	aid := id(t, p.call(t, "POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut",
		map[string]any{"therapist_id": therapist, "plz_prefix": "10"}, 201)["anfrage_id"])
	f.FailNext(fake.CreateEmail, 1, http.StatusInternalServerError)
	p.call(t, "POST", fmt.Sprintf("/api/therapeutenanfragen/%d/senden", aid), nil, http.StatusServiceUnavailable)
	p.call(t, "POST", fmt.Sprintf("/api/therapeutenanfragen/%d/senden", aid), nil, 200)
	p.call(t, "PUT", fmt.Sprintf("/api/therapeutenanfragen/%d/antwort", aid),
		map[string]any{"patient_responses": map[string]any{fmt.Sprint(patient): "angenommen"}}, 200)

	// Every event is published right after its commit, off the request's
	// path: wait (bounded) until the sink has all six before scraping.
	deadline := time.Now().Add(10 * time.Second)
	for total(sink.received()) < 6 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	// The publisher marks the rows published in the database after the sink
	// took them, so the backlog the scrape reads can trail the sink for a
	// moment (a machine under load showed "outbox backlog 3"): wait for the
	// marks too.
	unpublished := func() (n int) {
		if err := pool.QueryRow(context.Background(),
			`SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for unpublished() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	published := map[string]float64{
		"type=" + events.AnfrageCreated:          1,
		"type=" + events.AnfrageSent:             1,
		"type=" + events.AnfrageResponseReceived: 1,
		"type=" + events.CoolingPeriodStarted:    1,
		"type=" + events.SearchStatusChanged:     2, // the search created, then completed by the acceptance
	}
	business := map[string]map[string]float64{
		"matching_anfragen_created_total": {"": 1},
		"matching_anfragen_sent_total":    {"channel=email": 1, "channel=phone_call": 0},
		"matching_anfragen_responses_total": {
			"response_type=vollstaendige_Annahme": 1, "response_type=teilweise_Annahme": 0,
			"response_type=vollstaendige_Ablehnung": 0, "response_type=keine_Antwort": 0,
		},
		"matching_follow_up_calls_scheduled_total": {"": 0},
		"matching_follow_up_calls_completed_total": {"": 0},
	}
	checkBusiness := func(s metricstest.Scrape) {
		t.Helper()
		for name, want := range business {
			if d := cmp.Diff(want, s.Series(name)); d != "" {
				t.Errorf("%s (-want +got):\n%s", name, d)
			}
		}
		// Answered within the hour of sending.
		rt := s.Series("matching_anfrage_response_time_seconds")
		if rt["count"] != 1 || rt["le=3600"] != 1 {
			t.Errorf("response time histogram: %v, want one answer within 3600 s", rt)
		}
	}

	s := metricstest.Get(t, p.base+"/metrics")
	if d := cmp.Diff(published, s.NonZero("matching_events_published_total")); d != "" {
		t.Errorf("published (-want +got):\n%s", d)
	}
	if d := cmp.Diff(published, prefixed(sink.received())); d != "" {
		t.Errorf("the sink received (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]float64{}, s.NonZero("matching_events_publish_failed_total")); d != "" {
		t.Errorf("failed publications (-want +got):\n%s", d)
	}
	if got := s.Value(t, "matching_event_publish_duration_seconds", "count"); got != 6 {
		t.Errorf("timed publications %v, want 6", got)
	}
	if got := s.Value(t, "matching_outbox_backlog_events", ""); got != 0 {
		t.Errorf("outbox backlog %v, want 0", got)
	}
	if got := s.Series("matching_events_consumed_total"); len(got) != 0 {
		t.Errorf("the API consumes no events, but reports %v", got)
	}
	checkBusiness(s)
	p.stop()

	// A new process on the same database: business counters from the
	// database, publish counters from its own memory.
	again := startAPI(t, cfg, &logs)
	defer again.stop()
	s = metricstest.Get(t, again.base+"/metrics")
	checkBusiness(s)
	if got := s.NonZero("matching_events_published_total"); len(got) != 0 {
		t.Errorf("a new process reports publications %v, want none yet", got)
	}

	// The log.
	text := logs.String()
	for _, secretWord := range []string{patientFirstName, patientLastName, "Quellenstein", secret} {
		if strings.Contains(text, secretWord) {
			t.Errorf("the log contains %q", secretWord)
		}
	}
	key := fmt.Sprint(aid)
	var lifecycle []string
	publishedLines := 0
	sawSendError := false
	for _, l := range logs.Lines(t) {
		if l["function"] != api.FunctionName {
			t.Errorf("line without function=%s: %v", api.FunctionName, l)
		}
		switch l["msg"] {
		case "anfrage created", "anfrage sent", "anfrage response recorded":
			lifecycle = append(lifecycle, fmt.Sprintf("%s %s %s key=%s", l["level"], l["msg"], l["type"], l["key"]))
			if l["id"] == "" || l["id"] == nil {
				t.Errorf("lifecycle line without the event id: %v", l)
			}
		case "event published":
			publishedLines++
			if l["level"] != "INFO" || l["type"] == nil || l["id"] == nil || l["key"] == nil {
				t.Errorf("publication line %v, want INFO with type, id and key", l)
			}
		case "request failed":
			sawSendError = true
			errText, _ := l["error"].(string)
			if l["level"] != "ERROR" || !strings.Contains(errText, "Communication service unavailable: POST /api/emails") ||
				!strings.Contains(errText, "status 500") {
				t.Errorf("failed send logged as %v, want ERROR with the error chain", l)
			}
		}
	}
	wantLifecycle := []string{
		"INFO anfrage created " + events.AnfrageCreated + " key=" + key,
		"INFO anfrage sent " + events.AnfrageSent + " key=" + key,
		"INFO anfrage response recorded " + events.AnfrageResponseReceived + " key=" + key,
	}
	if d := cmp.Diff(wantLifecycle, lifecycle); d != "" {
		t.Errorf("lifecycle lines (-want +got):\n%s", d)
	}
	if publishedLines != 6 {
		t.Errorf("%d 'event published' lines, want 6", publishedLines)
	}
	if !sawSendError {
		t.Error("the failed send was not logged")
	}
}

// prefixed turns counts by type into the series keys of a type label.
func prefixed(byType map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range byType {
		out["type="+k] = v
	}
	return out
}

// A request's id, given in X-Request-Id or made by the API, comes back in
// the answer and is on every log line of the request: the API's own and the
// use case's.
func TestAPI_requestIDOnTheAnswerAndInTheLogs(t *testing.T) {
	t.Parallel()
	_, dbURL := storetest.New(t)
	f, nb := fake.Start(t)
	cfg := spec{
		Common: config.Common{
			Database: config.Database{URL: dbURL, MaxConns: 4},
			Logging:  config.Logging{Level: "DEBUG", Format: "json"},
			Kafka:    config.Kafka{MatchingEventsTopic: "matching-events", DLQTopic: "matching-events-dlq"},
			Port:     8080,
		},
		Settings: api.Settings{Neighbours: nb, Matching: config.Matching{
			MinAnfrageSize: 1, MaxAnfrageSize: 6, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
			CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00", Timezone: "Europe/Berlin",
		}},
	}
	var logs logtest.Buffer
	p := startAPI(t, cfg, &logs)
	defer p.stop()
	patient := f.AddPatient(fake.SamplePatient(nil))
	therapist := f.AddTherapist(fake.SampleTherapist(nil))
	p.call(t, "POST", "/api/platzsuchen", map[string]any{"patient_id": patient}, 201)

	body, _ := json.Marshal(map[string]any{"therapist_id": therapist, "plz_prefix": "10"})
	req, _ := http.NewRequest("POST", p.base+"/api/therapeutenanfragen/erstellen-fuer-therapeut", bytes.NewReader(body))
	req.Header.Set("X-Request-Id", "trace-abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("X-Request-Id") != "trace-abc" {
		t.Fatalf("status %d, X-Request-Id %q", resp.StatusCode, resp.Header.Get("X-Request-Id"))
	}
	var msgs []string
	for _, l := range logs.Lines(t) {
		if l["request_id"] == "trace-abc" {
			msgs = append(msgs, fmt.Sprint(l["level"], " ", l["msg"]))
		}
	}
	if d := cmp.Diff([]string{"INFO anfrage created", "DEBUG request handled"}, msgs); d != "" {
		t.Errorf("lines of the request (-want +got):\n%s", d)
	}
}
