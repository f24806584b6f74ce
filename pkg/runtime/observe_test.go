package runtime_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/localkafka/kafkatest"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/runtime/logtest"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// The name in a patient.updated event and the database password, neither of
// which may reach the log.
const (
	patientName = "Quellenstein-Obradović"
	dbPassword  = "pw-Lz8q-never-logged"
)

// The patient-deleted function as its main runs it (runtime.Run with the
// real handler), fed over HTTP as Knative would: every event is counted on
// /metrics by source, type and outcome — a redelivery as duplicate, a type
// the function does not act on as ignored, a poison event and a request
// that is no CloudEvent at all as rejected — and the event it emitted is
// counted as published. The JSON log has each handled event at DEBUG, the
// business effect and the publication at INFO, the rejections at ERROR with
// their error, type, id and key on every event line, and neither the
// patient's name nor the database password.
func TestRun_patientFunctionCountsItsEventsAndLogsThemByLevel(t *testing.T) {
	t.Parallel()
	pool, rawURL := storetest.New(t)
	u, _ := url.Parse(rawURL)
	secret, ok := u.User.Password()
	if !ok {
		secret = dbPassword
		u.User = url.UserPassword(u.User.Username(), secret)
	}
	var searchID int64
	if err := pool.QueryRow(context.Background(), `
		INSERT INTO matching_service.platzsuche (patient_id, status) VALUES (7, 'aktiv') RETURNING id`).Scan(&searchID); err != nil {
		t.Fatal(err)
	}
	var sunk atomic.Int64
	sinkSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		sunk.Add(1)
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(sinkSrv.Close)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var logs logtest.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runtime.Run(ctx, handlers.PatientDeleted(handlers.Settings{}), runtime.Options{
			Config: config.Common{
				Database: config.Database{URL: u.String(), MaxConns: 4},
				Kafka:    config.Kafka{MatchingEventsTopic: "matching-events"},
				Sink:     config.Sink{URL: sinkSrv.URL},
			},
			Listener: ln,
			Log:      slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
	}()
	base := "http://" + ln.Addr().String()
	waitReady(t, base, done)

	post := func(header map[string]string, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base, strings.NewReader(body))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("POST %v: status %d, want %d", header, resp.StatusCode, want)
		}
	}
	ce := func(id, eventType, key string) map[string]string {
		return map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "/patient-service",
			"Ce-Type": eventType, "Ce-Partitionkey": key, "Content-Type": "application/json"}
	}
	post(ce("d-1", "patient.deleted", "7"), `{"patient_id":7}`, 200)
	post(ce("d-1", "patient.deleted", "7"), `{"patient_id":7}`, 200) // redelivered
	post(ce("u-1", "patient.updated", "8"),
		`{"patient_id":8,"patient_data":{"nachname":"`+patientName+`","email":"q@example.org"}}`, 200)
	post(ce("c-1", "patient.created", "9"), `{"patient_id":9}`, 200)
	post(ce("p-1", "patient.deleted", "x"), `{"patient_id":"x"}`, 422)
	post(map[string]string{"Content-Type": "application/json"}, `{"patient_id":7}`, 400)

	// The event is published right after its commit, off the request's
	// path: wait (bounded) until the sink has it and its row is marked, so
	// the first scrape (whose backlog reading is cached) sees the outcome.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var unpublished int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM matching_service.outbox WHERE published_at IS NULL`).Scan(&unpublished); err != nil {
			t.Fatal(err)
		}
		if sunk.Load() >= 1 && unpublished == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	s := metricstest.Get(t, base+"/metrics")
	want := map[string]float64{
		"outcome=processed,source=patient-events,type=patient.deleted": 1,
		"outcome=duplicate,source=patient-events,type=patient.deleted": 1,
		"outcome=rejected,source=patient-events,type=patient.deleted":  1,
		"outcome=processed,source=patient-events,type=patient.updated": 1,
		"outcome=ignored,source=patient-events,type=patient.created":   1,
		"outcome=rejected,source=patient-events,type=unknown":          1,
	}
	if d := cmp.Diff(want, s.NonZero("matching_events_consumed_total")); d != "" {
		t.Errorf("consumed (-want +got):\n%s", d)
	}
	if got := s.Value(t, "matching_event_processing_duration_seconds", "source=patient-events,type=patient.deleted,count"); got != 3 {
		t.Errorf("timed patient.deleted events %v, want 3", got)
	}
	if d := cmp.Diff(map[string]float64{"type=search.status_changed": 1}, s.NonZero("matching_events_published_total")); d != "" {
		t.Errorf("published (-want +got):\n%s", d)
	}
	if got := s.Value(t, "matching_outbox_backlog_events", ""); got != 0 {
		t.Errorf("backlog %v, want 0", got)
	}
	for _, business := range []string{"matching_anfragen_created_total", "matching_follow_up_calls_completed_total"} {
		if _, ok := s[business]; ok {
			t.Errorf("%s is reported by a consumer; only the anfrage API reports business counters", business)
		}
	}
	if got := s.Series("matching_consumer_lag_messages"); len(got) != 0 {
		t.Errorf("lag %v reported over HTTP, where Knative consumes", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}

	text := logs.String()
	for _, secretWord := range []string{patientName, "Quellenstein", secret} {
		if strings.Contains(text, secretWord) {
			t.Errorf("the log contains %q", secretWord)
		}
	}
	var got []string
	for _, l := range logs.Lines(t) {
		if l["function"] != "patient-deleted" {
			t.Errorf("line without function=patient-deleted: %v", l)
		}
		msg, _ := l["msg"].(string)
		switch {
		case msg == "event handled", msg == "event not processed", msg == "event published",
			msg == "request rejected", strings.HasPrefix(msg, "patient "):
		default:
			continue
		}
		line := fmt.Sprintf("%s %s type=%v id=%v key=%v", l["level"], msg, l["type"], l["id"], l["key"])
		if msg == "event published" {
			// The outbox row id is random.
			line = fmt.Sprintf("%s %s type=%v key=%v", l["level"], msg, l["type"], l["key"])
		}
		if l["level"] == "ERROR" {
			if e, _ := l["error"].(string); e == "" {
				t.Errorf("ERROR line without its error: %v", l)
			}
		}
		got = append(got, line)
	}
	wantLines := []string{
		"INFO patient deleted: open searches cancelled type=patient.deleted id=d-1 key=7",
		"INFO event published type=search.status_changed key=" + fmt.Sprint(searchID),
		"DEBUG event handled type=patient.deleted id=d-1 key=7",
		"DEBUG event handled type=patient.deleted id=d-1 key=7",
		"INFO patient updated (no effect on matching yet) type=patient.updated id=u-1 key=8",
		"DEBUG event handled type=patient.updated id=u-1 key=8",
		"DEBUG event handled type=patient.created id=c-1 key=9",
		"ERROR event not processed type=patient.deleted id=p-1 key=x",
		"ERROR request rejected type= id= key=",
	}
	// The publisher logs from its own goroutine, after the response: the
	// lines are compared without their order.
	if d := cmp.Diff(wantLines, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); d != "" {
		t.Errorf("event log lines (-want +got):\n%s", d)
	}
}

func waitReady(t *testing.T, base string, died <-chan error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/health/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-died:
			t.Fatalf("the function stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the function did not become ready: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gate is a Handler that decodes like the real one and holds the event
// with id hold until released.
type gate struct {
	hold    string
	arrived chan struct{}
	release chan struct{}
	mu      sync.Mutex
	seen    int
	all     chan struct{}
	want    int
}

func (g *gate) Handle(_ context.Context, e cloudevents.Event) (events.Inbound, events.Outcome, error) {
	in, err := events.Decode(e)
	if err != nil {
		return in, events.Rejected, err
	}
	if in.ID == g.hold {
		close(g.arrived)
		<-g.release
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.seen++; g.seen == g.want {
		close(g.all)
	}
	return in, events.Processed, nil
}

// In Kafka-direct mode the consumer counts every record by topic, type and
// outcome and keeps the lag of its partition: while it holds the third of
// three records the lag is 1 (the third itself), once all are done 0, and
// when the consumer stops its partition's series is gone.
func TestConsumer_countsRecordsAndReportsTheLagOfItsPartition(t *testing.T) {
	brokers := kafkatest.Start(t)
	p := kafkatest.Producer(t, brokers)
	for i := 1; i <= 3; i++ {
		kafkatest.Produce(t, p, "therapist-events", "5", envelope(fmt.Sprintf("t-%d", i), "therapist.blocked", `{"therapist_id":5}`))
	}
	m := metrics.New(metrics.Options{})
	g := &gate{hold: "t-3", arrived: make(chan struct{}), release: make(chan struct{}), all: make(chan struct{}), want: 3}
	stop := runConsumerWith(t, brokers, "therapist-events", "test-lag", g, m)
	scrape := func() metricstest.Scrape {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return metricstest.Parse(t, rec.Body)
	}
	select {
	case <-g.arrived:
	case <-time.After(15 * time.Second):
		t.Fatal("the third record did not arrive")
	}
	lag := scrape().Series("matching_consumer_lag_messages")
	var partition string
	for k, v := range lag {
		partition = k
		if v != 1 {
			t.Errorf("lag %s = %v while the third record is in the handler, want 1", k, v)
		}
	}
	if len(lag) != 1 || !strings.HasSuffix(partition, ",topic=therapist-events") {
		t.Fatalf("lag series %v, want one partition of therapist-events", lag)
	}
	close(g.release)
	<-g.all
	eventually(t, func() bool { return scrape().Series("matching_consumer_lag_messages")[partition] == 0 })
	want := map[string]float64{"outcome=processed,source=therapist-events,type=therapist.blocked": 3}
	if d := cmp.Diff(want, scrape().NonZero("matching_events_consumed_total")); d != "" {
		t.Errorf("consumed (-want +got):\n%s", d)
	}
	stop()
	if got := scrape().Series("matching_consumer_lag_messages"); len(got) != 0 {
		t.Errorf("lag %v after the consumer stopped, want none", got)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A function that cannot reach or use its database stops with an ERROR
// line saying why, without the password of DATABASE_URL.
func TestRun_databaseErrorsDoNotLogThePassword(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]string{
		"unreachable":      "postgres://postgres:" + dbPassword + "@127.0.0.1:1/matching",
		"missing database": "postgres://postgres:" + dbPassword + "@127.0.0.1:5432/matching_no_such_db",
		"unparseable":      "postgres://postgres:" + dbPassword + "@[::1",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var logs logtest.Buffer
			err = runtime.Run(context.Background(), handlers.PatientDeleted(handlers.Settings{}), runtime.Options{
				Config:   config.Common{Database: config.Database{URL: dbURL, MaxConns: 1, AutoMigrate: true}},
				Listener: ln,
				Log:      slog.New(slog.NewJSONHandler(&logs, nil)),
			})
			if err == nil {
				t.Fatal("Run returned nil")
			}
			lines := logs.Lines(t)
			last := lines[len(lines)-1]
			if last["level"] != "ERROR" || last["msg"] != "function stopped" || last["error"] == "" {
				t.Errorf("last line %v, want ERROR function stopped with the error", last)
			}
			if strings.Contains(logs.String(), dbPassword) || strings.Contains(err.Error(), dbPassword) {
				t.Errorf("the password leaked: %s", logs.String())
			}
		})
	}
}
