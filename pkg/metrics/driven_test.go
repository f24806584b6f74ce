package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// Events POSTed to the communication-events handler are counted by outcome
// as they are handled, and a completed call reaches the business counter
// through the processed_events row its transaction wrote; a redelivery is
// a duplicate and counts no second call.
func TestDrivenEvents_countedByOutcomeAndAsCompletedCalls(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	m := metrics.New(metrics.Options{})
	now := time.Now()
	metrics.SetClock(m, func() time.Time { return now })
	m.CollectBusiness(pool)
	srv := runtime.NewServer(runtime.ServerOptions{
		Handler: instrumented(m, "communication-events", handlers.Communication(pool, nil, nil, placement.New(placement.Config{Pool: pool}))),
		Routes:  map[string]http.Handler{"GET /metrics": m.Handler()},
	})
	post := func(id, eventType, data string, wantStatus int) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(data))
		req.Header.Set("Ce-Specversion", "1.0")
		req.Header.Set("Ce-Id", id)
		req.Header.Set("Ce-Source", "communication-service")
		req.Header.Set("Ce-Type", eventType)
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		if w.Code != wantStatus {
			t.Fatalf("POST %s %s: status %d (%s), want %d", eventType, id, w.Code, w.Body, wantStatus)
		}
	}

	post("c1", "phone_call.completed", `{"call_id": 41}`, http.StatusOK)
	post("c2", "phone_call.completed", `{"call_id": 42}`, http.StatusOK)
	post("c1", "phone_call.completed", `{"call_id": 41}`, http.StatusOK) // redelivered
	post("c3", "phone_call.completed", `{"note": "no id"}`, http.StatusUnprocessableEntity)
	post("e1", "communication.email_sent", `{"email_id": 7}`, http.StatusOK)
	post("x1", "communication.letter_sent", `{}`, http.StatusOK)

	s := scrape(t, srv)
	got := map[string]float64{}
	for k, v := range s.Series("matching_events_consumed_total") {
		if v > 0 {
			got[k] = v
		}
	}
	want := map[string]float64{
		"outcome=processed,source=communication-events,type=phone_call.completed": 2,
		"outcome=duplicate,source=communication-events,type=phone_call.completed": 1,
		"outcome=rejected,source=communication-events,type=phone_call.completed":  1,
		"outcome=processed,source=communication-events,type=email.sent":           1,
		"outcome=ignored,source=communication-events,type=other":                  1,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("consumed events (-want +got):\n%s", d)
	}
	if got := s.Value(t, "matching_event_processing_duration_seconds", "source=communication-events,type=phone_call.completed,count"); got != 4 {
		t.Errorf("timed phone_call.completed events = %v, want 4", got)
	}
	if got := s.Value(t, "matching_follow_up_calls_completed_total", ""); got != 2 {
		t.Errorf("calls completed = %v, want 2", got)
	}
}
