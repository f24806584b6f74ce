package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/contracts/asyncapitest"
	"github.com/curavani/matching/contracts/openapitest"
	"github.com/curavani/matching/pkg/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// testStack is a stack on a fresh test database, on free ports, and a pool
// on that database for the assertions.
type testStack struct {
	*Stack
	t    testing.TB
	pool *pgxpool.Pool
}

// startStack starts a stack for the test, stopped when it ends.
func startStack(t testing.TB, opts Options) *testStack {
	t.Helper()
	pool, url := storetest.New(t)
	opts.DatabaseURL = url
	if opts.Logging == (config.Logging{}) {
		opts.Logging = config.Logging{Level: "WARN", Format: "text"}
	}
	s, err := Start(context.Background(), opts)
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	t.Cleanup(s.Stop)
	return &testStack{Stack: s, t: t, pool: pool}
}

// call sends a JSON request to the anfrage API and decodes the answer; it
// fails the test unless the status is want.
func (s *testStack) call(method, path string, body any, want int) map[string]any {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.APIURL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := openapitest.Client(s.t).Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		s.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return out
}

// neighbour sends one request to the fake neighbour services, as
// make patient-update does, and checks its status.
func (s *testStack) neighbour(method, path string, body any, want int) {
	s.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.NeighboursURL+path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		raw, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("%s %s at the fake neighbours: status %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
}

// publish produces one event as `make event` does.
func (s *testStack) publish(eventType, data, form string) Published {
	s.t.Helper()
	p, err := Publish(context.Background(), s.Brokers, eventType, data, form, "")
	if err != nil {
		s.t.Fatalf("publish %s %s: %v", eventType, data, err)
	}
	return p
}

// scalar reads one value from the stack's database.
func scalar[T any](s *testStack, sql string, args ...any) T {
	s.t.Helper()
	var v T
	if err := s.pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// exec runs SQL on the stack's database.
func (s *testStack) exec(sql string, args ...any) {
	s.t.Helper()
	if _, err := s.pool.Exec(context.Background(), sql, args...); err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
}

// eventually polls cond every 10 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// emitted is one record of matching-events as a consumer sees it.
type emitted struct {
	ID, Type, Key, Source string
	Partition             int32
	Offset                int64
	Payload               map[string]any
}

// collector reads a topic from the beginning in the background.
type collector struct {
	mu      sync.Mutex
	records []emitted
	headers []map[string]string
}

// collect follows topic until the test ends; every record must be one the
// AsyncAPI document allows.
func collect(t testing.TB, brokers []string, topic string) *collector {
	c := &collector{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done })
	go func() {
		defer close(done)
		err := follow(ctx, brokers, topic, true, func(m *sarama.ConsumerMessage) {
			if err := asyncapitest.Validate(asyncapitest.FromConsumerMessage(m)); err != nil {
				t.Errorf("event contract (contracts/asyncapi.json): %v", err)
			}
			h := map[string]string{}
			for _, rh := range m.Headers {
				h[string(rh.Key)] = string(rh.Value)
			}
			e := emitted{ID: h["ce_id"], Type: h["ce_type"], Key: string(m.Key), Source: h["ce_source"],
				Partition: m.Partition, Offset: m.Offset}
			_ = json.Unmarshal(m.Value, &e.Payload)
			c.mu.Lock()
			c.records = append(c.records, e)
			c.headers = append(c.headers, h)
			c.mu.Unlock()
		})
		if err != nil {
			t.Errorf("follow %s: %v", topic, err)
		}
	}()
	return c
}

// distinct returns the records seen so far, each event (by id) once: a
// redelivered event is the same event, as consumers dedupe by id.
func (c *collector) distinct() []emitted {
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := map[string]bool{}
	var out []emitted
	for _, r := range c.records {
		if !seen[r.ID] {
			seen[r.ID] = true
			out = append(out, r)
		}
	}
	return out
}

// byKey groups events by record key, each key's events in topic order
// (one key is always on one partition).
func byKey(rs []emitted) map[string][]emitted {
	out := map[string][]emitted{}
	for _, r := range rs {
		out[r.Key] = append(out[r.Key], r)
	}
	return out
}

// waitEvents waits until the collector holds n distinct events.
func (c *collector) waitEvents(t testing.TB, n int, timeout time.Duration) []emitted {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for len(c.distinct()) < n {
		if time.Now().After(deadline) {
			for _, e := range c.distinct() {
				t.Logf("got %s key=%s %v", e.Type, e.Key, e.Payload)
			}
			t.Fatalf("timed out after %s waiting for %d events", timeout, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return c.distinct()
}
