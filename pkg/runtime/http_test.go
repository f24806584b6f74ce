package runtime_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/runtime"
)

// recorder is a Handler that decodes like the real one and returns a fixed
// outcome, remembering what it saw.
type recorder struct {
	outcome events.Outcome
	err     error
	seen    []events.Inbound
}

func (r *recorder) Handle(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	r.seen = append(r.seen, in)
	if err != nil {
		return in, events.Rejected, err
	}
	return in, r.outcome, r.err
}

func post(t testing.TB, h http.Handler, header map[string]string, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var binaryHeaders = map[string]string{
	"Ce-Specversion":  "1.0",
	"Ce-Id":           "abc-1",
	"Ce-Source":       "/patient-service",
	"Ce-Type":         "patient.deleted",
	"Ce-Partitionkey": "7",
	"Content-Type":    "application/json",
}

func TestServer_acceptsBinaryAndStructuredCloudEvents(t *testing.T) {
	structured := `{"specversion":"1.0","id":"abc-1","source":"/patient-service","type":"patient.deleted",
		"partitionkey":"7","datacontenttype":"application/json","data":{"patient_id":7}}`
	tests := map[string]struct {
		header map[string]string
		body   string
	}{
		"binary":     {binaryHeaders, `{"patient_id":7}`},
		"structured": {map[string]string{"Content-Type": "application/cloudevents+json"}, structured},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := &recorder{outcome: events.Processed}
			w := post(t, runtime.NewServer(runtime.ServerOptions{Handler: h}), tc.header, tc.body)
			if w.Code != http.StatusOK || w.Header().Get(runtime.OutcomeHeader) != "processed" {
				t.Fatalf("status %d outcome %q body %q, want 200 processed", w.Code, w.Header().Get(runtime.OutcomeHeader), w.Body)
			}
			want := events.Inbound{Type: "patient.deleted", ID: "abc-1", Source: "/patient-service",
				DedupeKey: "ce:/patient-service#abc-1", Key: "7", Payload: []byte(`{"patient_id":7}`)}
			if diff := cmp.Diff([]events.Inbound{want}, h.seen); diff != "" {
				t.Fatalf("handler saw (-want +got):\n%s", diff)
			}
		})
	}
}

func TestServer_mapsOutcomesToTheStatusKnativeActsOn(t *testing.T) {
	tests := map[string]struct {
		header  map[string]string
		body    string
		outcome events.Outcome
		err     error
		want    int
	}{
		"processed":              {binaryHeaders, `{"patient_id":7}`, events.Processed, nil, 200},
		"duplicate":              {binaryHeaders, `{"patient_id":7}`, events.Duplicate, nil, 200},
		"ignored":                {binaryHeaders, `{"patient_id":7}`, events.Ignored, nil, 200},
		"missing field is 422":   {binaryHeaders, `{"patient_id":7}`, events.Rejected, fault.Invalidf("field patient_id: required"), 422},
		"transient is 500":       {binaryHeaders, `{"patient_id":7}`, events.Failed, errors.New("connection refused"), 500},
		"unavailable is 503":     {binaryHeaders, `{"patient_id":7}`, events.Failed, fault.Unavailablef("database unavailable"), 503},
		"data not JSON is 400":   {binaryHeaders, `not json`, events.Processed, nil, 400},
		"not a CloudEvent":       {map[string]string{"Content-Type": "application/json"}, `{"patient_id":7}`, events.Processed, nil, 400},
		"no ce-id":               {without(binaryHeaders, "Ce-Id"), `{"patient_id":7}`, events.Processed, nil, 400},
		"broken structured JSON": {map[string]string{"Content-Type": "application/cloudevents+json"}, `{"specversion":`, events.Processed, nil, 400},
		"batch":                  {map[string]string{"Content-Type": "application/cloudevents-batch+json"}, `[]`, events.Processed, nil, 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := &recorder{outcome: tc.outcome, err: tc.err}
			w := post(t, runtime.NewServer(runtime.ServerOptions{Handler: h}), tc.header, tc.body)
			if w.Code != tc.want {
				t.Fatalf("status %d (%q), want %d", w.Code, w.Body, tc.want)
			}
			if tc.want >= 400 && (w.Body.Len() == 0 || strings.Count(w.Body.String(), "\n") != 1) {
				t.Fatalf("body %q, want a one-line reason", w.Body)
			}
		})
	}
}

func without(h map[string]string, key string) map[string]string {
	out := map[string]string{}
	for k, v := range h {
		if k != key {
			out[k] = v
		}
	}
	return out
}

func TestServer_rejectsABodyAboveOneMiBWith413(t *testing.T) {
	h := &recorder{outcome: events.Processed}
	body := `{"patient_id":7,"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	w := post(t, runtime.NewServer(runtime.ServerOptions{Handler: h}), binaryHeaders, body)
	if w.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", w.Code)
	}
	if len(h.seen) != 0 {
		t.Fatalf("handler was called for a too large body")
	}
}

func TestServer_healthEndpoints(t *testing.T) {
	var dbDown atomic.Bool
	s := runtime.NewServer(runtime.ServerOptions{
		Handler: &recorder{},
		Ready: func(context.Context) error {
			if dbDown.Load() {
				return errors.New("connection refused")
			}
			return nil
		},
		Routes: map[string]http.Handler{"GET /metrics": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, "metrics")
		})},
	})
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		return w.Code, strings.TrimSpace(w.Body.String())
	}
	check := func(path string, wantCode int, wantBody string) {
		t.Helper()
		code, body := get(path)
		if code != wantCode || body != wantBody {
			t.Errorf("GET %s = %d %s, want %d %s", path, code, body, wantCode, wantBody)
		}
	}
	check("/health", 200, `{"service":"matching-service","status":"healthy"}`)
	check("/health/liveness", 200, `{"status":"alive"}`)
	check("/health/readiness", 200, `{"status":"ready"}`)
	check("/metrics", 200, "metrics")
	dbDown.Store(true)
	check("/health/readiness", 503, `{"error":"connection refused","status":"not ready"}`)
	check("/health/liveness", 200, `{"status":"alive"}`)
}

func TestServer_triggerRunsForAnyPost(t *testing.T) {
	var runs atomic.Int32
	fail := false
	s := runtime.NewServer(runtime.ServerOptions{Trigger: func(context.Context) error {
		runs.Add(1)
		if fail {
			return errors.New("sink down")
		}
		return nil
	}})
	if w := post(t, s, map[string]string{"Content-Type": "text/plain"}, "tick"); w.Code != 200 {
		t.Fatalf("status %d, want 200", w.Code)
	}
	if w := post(t, s, binaryHeaders, `{}`); w.Code != 200 {
		t.Fatalf("status %d, want 200", w.Code)
	}
	fail = true
	if w := post(t, s, nil, ""); w.Code != 500 {
		t.Fatalf("status %d, want 500 when the trigger fails", w.Code)
	}
	if runs.Load() != 3 {
		t.Fatalf("trigger ran %d times, want 3", runs.Load())
	}
}

func TestServer_shutdownDrainsAnInFlightRequest(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	h := runtime.HandlerFunc(func(ctx context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
		close(started)
		<-release
		if ctx.Err() != nil {
			return events.Inbound{}, events.Failed, ctx.Err()
		}
		return events.Inbound{}, events.Processed, nil
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- runtime.NewServer(runtime.ServerOptions{Handler: h}).Serve(ctx, ln) }()

	url := "http://" + ln.Addr().String() + "/"
	resp := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader([]byte(`{"patient_id":7}`)))
		for k, v := range binaryHeaders {
			req.Header.Set(k, v)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			resp <- 0
			return
		}
		r.Body.Close()
		resp <- r.StatusCode
	}()
	<-started
	cancel() // SIGTERM
	select {
	case err := <-served:
		t.Fatalf("Serve returned (%v) while a request was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Errorf("new connections are still accepted after shutdown began")
	}
	close(release)
	if code := <-resp; code != 200 {
		t.Fatalf("in-flight request got %d, want 200", code)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}
