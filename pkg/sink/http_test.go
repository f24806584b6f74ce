package sink_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/sink"
)

// testEvent is the CloudEvent the outbox builds for a search.status_changed row.
func testEvent(t testing.TB) cloudevents.Event {
	t.Helper()
	created := time.Date(2026, 11, 27, 9, 30, 0, 0, time.UTC)
	e, err := events.NewCloudEvent("0b6a3f0e-5d7c-4a43-9b4e-1f1f2f3f4f5f", events.SearchStatusChanged, "42", created,
		[]byte(`{"search_id":42,"patient_id":7,"old_status":"aktiv","new_status":"abgebrochen"}`))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// recorded is one request a fake K_SINK received.
type recorded struct {
	header http.Header
	body   []byte
}

// fakeSink is an httptest K_SINK answering status and recording requests.
type fakeSink struct {
	mu     sync.Mutex
	status int
	reqs   []recorded
	srv    *httptest.Server
}

func newFakeSink(t *testing.T, status int) *fakeSink {
	f := &fakeSink{status: status}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, recorded{header: r.Header.Clone(), body: body})
		status := f.status
		f.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeSink) received() []recorded {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]recorded(nil), f.reqs...)
}

func TestHTTP_postsBinaryModeCloudEventWithOverrides(t *testing.T) {
	f := newFakeSink(t, http.StatusAccepted)
	s := sink.NewHTTP(f.srv.URL, map[string]string{"origin": "followup", "team": "matching"}, time.Second)
	defer s.Close()

	if err := s.Send(context.Background(), testEvent(t)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	reqs := f.received()
	if len(reqs) != 1 {
		t.Fatalf("sink received %d requests, want 1", len(reqs))
	}
	got := map[string]string{}
	for _, h := range []string{"Ce-Specversion", "Ce-Id", "Ce-Source", "Ce-Type", "Ce-Time", "Ce-Subject",
		"Ce-Partitionkey", "Ce-Origin", "Ce-Team", "Content-Type"} {
		got[h] = reqs[0].header.Get(h)
	}
	want := map[string]string{
		"Ce-Specversion":  "1.0",
		"Ce-Id":           "0b6a3f0e-5d7c-4a43-9b4e-1f1f2f3f4f5f",
		"Ce-Source":       "matching-service",
		"Ce-Type":         "search.status_changed",
		"Ce-Time":         "2026-11-27T09:30:00Z",
		"Ce-Subject":      "42",
		"Ce-Partitionkey": "42",
		"Ce-Origin":       "followup",
		"Ce-Team":         "matching",
		"Content-Type":    "application/json",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("headers (-want +got):\n%s", d)
	}
	wantBody := `{"search_id":42,"patient_id":7,"old_status":"aktiv","new_status":"abgebrochen"}`
	if string(reqs[0].body) != wantBody {
		t.Errorf("body = %s, want %s", reqs[0].body, wantBody)
	}
}

func TestHTTP_overridesDoNotChangeTheCallersEvent(t *testing.T) {
	f := newFakeSink(t, http.StatusAccepted)
	s := sink.NewHTTP(f.srv.URL, map[string]string{"origin": "followup"}, time.Second)
	e := testEvent(t)
	if err := s.Send(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Extensions()["origin"]; ok {
		t.Error("Send added the override to the caller's event")
	}
}

func TestHTTP_anyReplyButTwoHundredsIsAnError(t *testing.T) {
	tests := map[string]struct {
		status  int
		wantErr bool
	}{
		"202 accepted (KafkaSink produced)":   {http.StatusAccepted, false},
		"200 ok":                              {http.StatusOK, false},
		"204 no content":                      {http.StatusNoContent, false},
		"400 not a CloudEvent":                {http.StatusBadRequest, true},
		"404 no such sink":                    {http.StatusNotFound, true},
		"503 KafkaSink could not produce":     {http.StatusServiceUnavailable, true},
		"500 internal error of the receiver":  {http.StatusInternalServerError, true},
		"302 redirect is not an acknowledged": {http.StatusFound, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFakeSink(t, tc.status)
			s := sink.NewHTTP(f.srv.URL, nil, time.Second)
			err := s.Send(context.Background(), testEvent(t))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Send error = %v, want error: %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), "search.status_changed") {
				t.Errorf("error %q does not name the event type", err)
			}
		})
	}
}

func TestHTTP_unreachableSinkIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close() // nothing listens there any more: connection refused
	s := sink.NewHTTP(url, nil, time.Second)
	if err := s.Send(context.Background(), testEvent(t)); err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
}

func TestHTTP_slowSinkIsCutOffByTheContextDeadline(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s := sink.NewHTTP(srv.URL, nil, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Send(ctx, testEvent(t))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send error = %v, want the context's deadline", err)
	}
}

func TestNew_choosesTheSinkFromTheEnvironment(t *testing.T) {
	f := newFakeSink(t, http.StatusAccepted)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	t.Run("K_SINK wins and applies K_CE_OVERRIDES", func(t *testing.T) {
		cfg := config.Common{}
		cfg.Sink.URL = f.srv.URL
		cfg.Sink.CEOverrides = `{"extensions":{"origin":"relay"}}`
		cfg.Kafka.BootstrapServers = []string{"127.0.0.1:1"}
		cfg.Kafka.MatchingEventsTopic = "matching-events"
		s, err := sink.New(cfg, log)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Send(context.Background(), testEvent(t)); err != nil {
			t.Fatal(err)
		}
		reqs := f.received()
		if got := reqs[len(reqs)-1].header.Get("Ce-Origin"); got != "relay" {
			t.Errorf("ce-origin = %q, want relay", got)
		}
	})

	t.Run("nothing configured: every send fails and a warning is logged once", func(t *testing.T) {
		logs.Reset()
		s, err := sink.New(config.Common{}, log)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 {
			err := s.Send(context.Background(), testEvent(t))
			if !errors.Is(err, sink.ErrNotConfigured) {
				t.Fatalf("Send error = %v, want ErrNotConfigured", err)
			}
		}
		if got := strings.Count(logs.String(), "level=WARN"); got != 1 {
			t.Errorf("%d warnings logged, want 1:\n%s", got, logs.String())
		}
		if !strings.Contains(logs.String(), "set K_SINK or KAFKA_BOOTSTRAP_SERVERS") {
			t.Errorf("warning does not say what to set:\n%s", logs.String())
		}
	})

	t.Run("an override that is no extension name stops the start", func(t *testing.T) {
		cfg := config.Common{}
		cfg.Sink.URL = f.srv.URL
		cfg.Sink.CEOverrides = `{"extensions":{"Bad-Name":"x"}}`
		if _, err := sink.New(cfg, log); err == nil || !strings.Contains(err.Error(), "K_CE_OVERRIDES") {
			t.Fatalf("New error = %v, want one naming K_CE_OVERRIDES", err)
		}
	})
}
