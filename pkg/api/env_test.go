package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/neighbours"
	"github.com/curavani/matching/pkg/neighbours/fake"
	"github.com/curavani/matching/pkg/placement"
	"github.com/curavani/matching/pkg/store"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testNow is the tests' clock: a Tuesday, 10:00 UTC (12:00 in Berlin).
var testNow = time.Date(2025, 8, 12, 10, 0, 0, 123456000, time.UTC)

// env is one API under test: a fresh database, the fake neighbours and the
// API served on httptest.
type env struct {
	t    testing.TB
	pool *pgxpool.Pool
	fake *fake.Fake
	srv  *httptest.Server
	api  *api.Server
	pub  *recordingPublisher
	ncfg config.Neighbours

	mu  sync.Mutex
	now time.Time

	// digestSQL is the query of fuzzState, built on first use.
	digestSQL string
}

type option func(*api.Config)

func withMatching(fn func(*config.Matching)) option {
	return func(c *api.Config) { fn(&c.Matching) }
}

func newEnv(t testing.TB, opts ...option) *env {
	t.Helper()
	return newEnvWithPool(t, 0, opts...)
}

// newEnvWithPool is newEnv with a pool of poolSize connections of the API's
// own (as DATABASE_MAX_CONNS gives it; the test's helpers keep theirs), or
// the test's pool when poolSize is 0.
func newEnvWithPool(t testing.TB, poolSize int32, opts ...option) *env {
	t.Helper()
	pool, url := storetest.New(t)
	f, ncfg := fake.Start(t)
	clients := neighbours.NewClients(ncfg)
	e := &env{t: t, pool: pool, fake: f, pub: &recordingPublisher{}, ncfg: ncfg, now: testNow}
	apiPool := pool
	if poolSize > 0 {
		var err error
		if apiPool, err = store.Open(context.Background(), url, poolSize); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(apiPool.Close)
	}
	cfg := api.Config{Config: placement.Config{
		Pool:          apiPool,
		Patients:      clients.Patients,
		Therapists:    clients.Therapists,
		Distances:     clients.Distances,
		Communication: clients.Communication,
		Publisher:     e.pub,
		Matching: config.Matching{
			MinAnfrageSize: 1, MaxAnfrageSize: 6, PLZMatchDigits: 2, DefaultMaxDistanceKM: 25,
			CoolingPeriodWeeks: 4, FollowUpThresholdDays: 7, DefaultPhoneCallTime: "10:00",
			Timezone: "Europe/Berlin",
		},
		Now: e.clock,
	}}
	for _, o := range opts {
		o(&cfg)
	}
	e.api = api.New(cfg)
	e.srv = httptest.NewServer(checked(t, e.api))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *env) setNow(t time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = t
}

// recordingPublisher remembers the outbox ids handed to it after commits.
type recordingPublisher struct {
	mu  sync.Mutex
	ids []string
}

func (p *recordingPublisher) Publish(_ context.Context, ids []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, ids...)
}

func (p *recordingPublisher) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ids...)
}

// response is an answer of the API.
type response struct {
	status int
	body   map[string]any
	raw    string
	header http.Header
}

// do sends a request; body is marshalled to JSON unless it is a string
// (sent as is) or nil.
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, raw: string(data), header: resp.Header}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	_ = dec.Decode(&out.body)
	return out
}

// must checks the status of a response.
func (r response) must(t testing.TB, status int) response {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

// num reads a JSON number of the body as int64.
func num(t testing.TB, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

// outboxEvent is one outbox row.
type outboxEvent struct {
	ID      string
	Type    string
	Key     string
	Payload map[string]any
}

// events returns the outbox rows in creation order.
func (e *env) events() []outboxEvent {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(),
		`SELECT id::text, event_type, partition_key, payload::text FROM matching_service.outbox ORDER BY seq`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxEvent
	for rows.Next() {
		var ev outboxEvent
		var payload string
		if err := rows.Scan(&ev.ID, &ev.Type, &ev.Key, &payload); err != nil {
			e.t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&ev.Payload); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

// eventsSince returns the outbox rows after the first n.
func (e *env) eventsSince(n int) []outboxEvent {
	all := e.events()
	if n > len(all) {
		return nil
	}
	return all[n:]
}

// exec runs SQL against the test database.
func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// scalar reads one value.
func scalar[T any](e *env, sql string, args ...any) T {
	e.t.Helper()
	var v T
	if err := e.pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// patient stores a sample patient with overrides and returns its id.
func (e *env) patient(overrides map[string]any) int64 {
	return e.fake.AddPatient(fake.SamplePatient(overrides))
}

// therapist stores a sample therapist with overrides and returns its id.
func (e *env) therapist(overrides map[string]any) int64 {
	return e.fake.AddTherapist(fake.SampleTherapist(overrides))
}

// search creates a search for patient over the API and returns its id.
func (e *env) search(patientID int64) int64 {
	e.t.Helper()
	r := e.do("POST", "/api/platzsuchen", map[string]any{"patient_id": patientID}).must(e.t, 201)
	return num(e.t, r.body["id"])
}

// anfrage creates an anfrage for therapist in prefix and returns its id.
func (e *env) anfrage(therapistID int64, prefix string) int64 {
	e.t.Helper()
	r := e.do("POST", "/api/therapeutenanfragen/erstellen-fuer-therapeut",
		map[string]any{"therapist_id": therapistID, "plz_prefix": prefix}).must(e.t, 201)
	return num(e.t, r.body["anfrage_id"])
}

// jsonNum is n as the tests decode JSON numbers.
func jsonNum(n int64) json.Number { return json.Number(fmt.Sprint(n)) }

// cmpIgnoreID compares outbox events without their random ids.
var cmpIgnoreID = cmpopts.IgnoreFields(outboxEvent{}, "ID")
