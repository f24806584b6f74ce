package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/metrics"
	"github.com/curavani/matching/pkg/metrics/metricstest"
	"github.com/curavani/matching/pkg/runtime"
	"github.com/curavani/matching/pkg/store/storetest"
)

// groupCommitOn is group commit as deployed by default, one lane.
var groupCommitOn = config.GroupCommit{Max: 64, Lanes: 1}

// patientServer serves the patient-deleted handler (without the copy) on
// pool with group commit gc, on a free port until the test ends or
// shutdown is called; served receives what Serve returned.
type patientServer struct {
	*runtime.Server
	url      string
	metrics  *metrics.Metrics
	shutdown context.CancelFunc
	served   chan error
}

func servePatients(t *testing.T, pool *pgxpool.Pool, gc config.GroupCommit) *patientServer {
	t.Helper()
	m := metrics.New(metrics.Options{})
	s := runtime.NewServer(runtime.ServerOptions{Handler: handlers.Patient(pool, nil, nil), GroupCommit: gc,
		Metrics: m, Source: handlers.PatientTopic})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ps := &patientServer{Server: s, url: "http://" + ln.Addr().String(), metrics: m, shutdown: cancel, served: make(chan error, 1)}
	go func() { ps.served <- s.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return ps
}

// deleted POSTs patient.deleted of the patient (its payload as given) as
// event id and returns the status and the outcome header.
func (ps *patientServer) deleted(ctx context.Context, id, patient string) (int, string, error) {
	return ps.post(ctx, id, "patient.deleted", fmt.Sprintf(`{"patient_id":%s}`, patient))
}

func (ps *patientServer) post(ctx context.Context, id, eventType, body string) (int, string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ps.url, strings.NewReader(body))
	for k, v := range map[string]string{"Ce-Specversion": "1.0", "Ce-Id": id, "Ce-Source": "/patient-service",
		"Ce-Type": eventType, "Content-Type": "application/json"} {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(runtime.OutcomeHeader), nil
}

// batches is how many group-commit batches ps applied and how many events
// they held.
func (ps *patientServer) batches(t *testing.T) (count, events float64) {
	t.Helper()
	rec := metricstest.Parse(t, scrapeBody(t, ps.metrics))
	s := rec.Series("matching_group_commit_batch_size")
	return s["source="+handlers.PatientTopic+",count"], s["source="+handlers.PatientTopic+",sum"]
}

func scrapeBody(t *testing.T, m *metrics.Metrics) io.Reader {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body
}

// searchStatus is the status of the patient's search and how many outbox
// rows name it.
func searchStatus(t *testing.T, pool *pgxpool.Pool, patient int64) (status string, emitted int) {
	t.Helper()
	if err := pool.QueryRow(context.Background(), `
		SELECT s.status::text, (SELECT count(*) FROM matching_service.outbox o WHERE o.partition_key = s.id::text)
		FROM matching_service.platzsuche s WHERE s.patient_id = $1`, patient).Scan(&status, &emitted); err != nil {
		t.Fatalf("search of patient %d: %v", patient, err)
	}
	return status, emitted
}

// holdPatient locks the search of the patient in a transaction of its own,
// so that the batch cancelling it waits; release commits it.
func holdPatient(t *testing.T, pool *pgxpool.Pool, patient int64) (release func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM matching_service.platzsuche WHERE patient_id = $1 FOR UPDATE`, patient); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release = func() { once.Do(func() { _ = tx.Commit(ctx) }) }
	t.Cleanup(release)
	return release
}

// waitingBehind waits until a backend of the test's database waits for a
// lock (the held batch) and n requests wait for the next batch.
func waitingBehind(t *testing.T, pool *pgxpool.Pool, ps *patientServer, n int) {
	t.Helper()
	eventually(t, func() bool {
		var locked bool
		_ = pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock')`).Scan(&locked)
		return locked && runtime.Waiting(ps.Server) == n
	})
}

type answer struct {
	id, outcome string
	code        int
	// status and emitted are the patient's search and its outbox rows as
	// read right after the answer arrived.
	status  string
	emitted int
	err     error
}

// Requests that arrive while a batch is applied wait and are applied
// together in the next one; each is answered with its own status, only
// once its own effects are committed: a poison event among them is
// answered 422 alone and the others apply. The client of the request
// leading the held batch goes away meanwhile: the batch, and the requests
// waiting behind it, commit all the same.
func TestGroupCommit_requestsArrivingDuringABatchShareTheNextAndEachGetsItsOwnAnswer(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	for p := int64(1); p <= 8; p++ {
		insertSearch(t, pool, p)
	}
	ps := servePatients(t, pool, groupCommitOn)
	release := holdPatient(t, pool, 1)

	answers := make(chan answer, 9)
	send := func(ctx context.Context, id, patient string, pid int64) {
		code, outcome, err := ps.deleted(ctx, id, patient)
		a := answer{id: id, code: code, outcome: outcome, err: err}
		if err == nil && pid > 0 {
			a.status, a.emitted = searchStatus(t, pool, pid)
		}
		answers <- a
	}
	leaderCtx, leaderGone := context.WithCancel(context.Background())
	go send(leaderCtx, "d-1", "1", 1)
	waitingBehind(t, pool, ps, 0)
	for p := int64(2); p <= 8; p++ {
		go send(context.Background(), fmt.Sprintf("d-%d", p), fmt.Sprint(p), p)
	}
	go send(context.Background(), "poison", `"vier"`, 0)
	waitingBehind(t, pool, ps, 8)
	leaderGone()
	if a := <-answers; a.id != "d-1" || a.err == nil {
		t.Fatalf("first answer %+v, want the leader's client to have gone", a)
	}
	release()

	for range 8 {
		a := <-answers
		switch {
		case a.err != nil:
			t.Errorf("%s: %v", a.id, a.err)
		case a.id == "poison":
			if a.code != 422 || a.outcome != "rejected" {
				t.Errorf("poison answered %d %s, want 422 rejected", a.code, a.outcome)
			}
		case a.code != 200 || a.outcome != "processed" || a.status != "abgebrochen" || a.emitted != 1:
			t.Errorf("%s answered %d %s with its search %s and %d events emitted, want 200 processed after its commit",
				a.id, a.code, a.outcome, a.status, a.emitted)
		}
	}
	if status, emitted := searchStatus(t, pool, 1); status != "abgebrochen" || emitted != 1 {
		t.Errorf("the gone client's search is %s with %d events, want cancelled with 1", status, emitted)
	}
	if count, events := ps.batches(t); count != 2 || events != 9 {
		t.Errorf("%v batches of %v events, want the held one and one of the 8 that waited", count, events)
	}
}

// A request that finds no batch running is applied at once, alone: it does
// not wait for company. Each of two requests in turn is a batch of one.
func TestGroupCommit_aLoneRequestCommitsAloneAtOnce(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	insertSearch(t, pool, 1)
	insertSearch(t, pool, 2)
	ps := servePatients(t, pool, groupCommitOn)
	for p := int64(1); p <= 2; p++ {
		code, outcome, err := ps.deleted(context.Background(), fmt.Sprint("d-", p), fmt.Sprint(p))
		if err != nil || code != 200 || outcome != "processed" {
			t.Fatalf("patient %d: %d %s %v", p, code, outcome, err)
		}
		if status, emitted := searchStatus(t, pool, p); status != "abgebrochen" || emitted != 1 {
			t.Fatalf("patient %d: search %s, %d events after the answer", p, status, emitted)
		}
		if count, events := ps.batches(t); count != float64(p) || events != float64(p) {
			t.Fatalf("after %d lone requests: %v batches of %v events, want each a batch of one", p, count, events)
		}
	}
}

// A type the function has no route for is acknowledged without touching
// the database, and a request that is no usable event is answered 400
// without it too: both are answered by a function whose pool is closed,
// with group commit on and off, while a routed type then fails with a 5xx.
func TestGroupCommit_anUnroutedTypeAndABadEventAreAnsweredWithoutTheDatabase(t *testing.T) {
	t.Parallel()
	for name, gc := range map[string]config.GroupCommit{"on": groupCommitOn, "off": {}} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			pool, _ := storetest.New(t)
			ps := servePatients(t, pool, gc)
			pool.Close()
			ctx := context.Background()
			for _, c := range []struct {
				eventType, body string
				code            int
				outcome         string
			}{
				{"patient.created", `{"patient_id":7}`, 200, "ignored"},
				{"therapist.blocked", `{"therapist_id":7}`, 200, "ignored"},
				{"patient.deleted", `not json`, 400, "rejected"},
			} {
				code, outcome, err := ps.post(ctx, "e-"+c.eventType, c.eventType, c.body)
				if err != nil || code != c.code || outcome != c.outcome {
					t.Errorf("%s %s: %d %s %v, want %d %s", c.eventType, c.body, code, outcome, err, c.code, c.outcome)
				}
			}
			if code, _, _ := ps.deleted(ctx, "d-7", "7"); code < 500 {
				t.Errorf("a routed type answered %d with the database closed, want a 5xx", code)
			}
			if count, _ := ps.batches(t); gc.Enabled() && count != 1 {
				t.Errorf("%v batches, want only the routed event's", count)
			}
		})
	}
}

// Shutting down drains: the requests waiting behind a running batch are
// applied and answered before Serve returns.
func TestGroupCommit_shutdownDrainsTheWaitingRequests(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.New(t)
	for p := int64(1); p <= 4; p++ {
		insertSearch(t, pool, p)
	}
	ps := servePatients(t, pool, groupCommitOn)
	release := holdPatient(t, pool, 1)
	codes := make(chan int, 4)
	send := func(p int) {
		code, _, err := ps.deleted(context.Background(), fmt.Sprint("d-", p), fmt.Sprint(p))
		if err != nil {
			t.Error(err)
		}
		codes <- code
	}
	go send(1)
	waitingBehind(t, pool, ps, 0)
	for p := 2; p <= 4; p++ {
		go send(p)
	}
	waitingBehind(t, pool, ps, 3)
	ps.shutdown() // SIGTERM
	select {
	case err := <-ps.served:
		t.Fatalf("Serve returned (%v) with requests in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	for range 4 {
		if code := <-codes; code != 200 {
			t.Errorf("status %d, want 200", code)
		}
	}
	if err := <-ps.served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var cancelled int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM matching_service.platzsuche WHERE status = 'abgebrochen'`).Scan(&cancelled); err != nil || cancelled != 4 {
		t.Fatalf("%d searches cancelled (%v), want 4", cancelled, err)
	}
}

func insertSearch(t *testing.T, pool *pgxpool.Pool, patient int64) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO matching_service.platzsuche (patient_id, status) VALUES ($1, 'aktiv')`, patient); err != nil {
		t.Fatal(err)
	}
}
