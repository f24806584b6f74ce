package campaign

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/curavani/matching/pkg/handlers"
)

// answer is one HTTP answer the campaign got (from the API or a function's
// event path), for the check that no 5xx comes long after a fault ended.
type answer struct {
	// At is when the request was sent and Done when it was answered: a
	// request in flight when a fault begins or ends may fail because of it.
	At, Done time.Time
	Status   int // 0: no answer (connection refused, timeout)
	What     string
}

// traffic sends the units and the API calls and records what came back.
type traffic struct {
	e       *env
	client  *http.Client
	mu      sync.Mutex
	answers []answer
	// rejected are events or calls refused with a 4xx that should have
	// been accepted.
	rejected []string
	// sent counts events delivered (acknowledged by the broker or answered
	// 2xx), apiCalls the API requests made.
	sent, apiCalls atomic.Int64
	// apiSearches maps the patient of each API scenario that created its
	// search to the search's id.
	apiSearches sync.Map
}

func newTraffic(e *env) *traffic {
	return &traffic{e: e, client: &http.Client{Timeout: 10 * time.Second}}
}

func (t *traffic) record(a answer) {
	t.mu.Lock()
	t.answers = append(t.answers, a)
	t.mu.Unlock()
}

func (t *traffic) reject(what string) {
	t.mu.Lock()
	if len(t.rejected) < 50 {
		t.rejected = append(t.rejected, what)
	}
	t.mu.Unlock()
}

// run sends units at an even pace over d (Kafka units by 4 producers, HTTP
// units by 8 clients, each unit's events in order) and runs API scenarios
// with 3 clients until d ends; it returns once every unit was delivered and
// every API scenario begun has finished.
func (t *traffic) run(ctx context.Context, units []*unit, apiPatients []int64, d time.Duration) {
	kafkaQ, httpQ := make(chan *unit, len(units)), make(chan *unit, len(units))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { t.kafkaSender(ctx, kafkaQ) })
	}
	for range 8 {
		wg.Go(func() { t.httpSender(ctx, httpQ) })
	}
	apiCtx, stopAPI := context.WithTimeout(ctx, d)
	defer stopAPI()
	var next atomic.Int64
	for range 3 {
		wg.Go(func() {
			for apiCtx.Err() == nil {
				i := next.Add(1) - 1
				if int(i) >= len(apiPatients) {
					return
				}
				t.apiScenario(ctx, apiPatients[i])
				select {
				case <-apiCtx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	begin := time.Now()
	interval := d / time.Duration(max(1, len(units)))
	for i, u := range units {
		if wait := time.Until(begin.Add(time.Duration(i) * interval)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if u.path == modeKafka {
			kafkaQ <- u
		} else {
			httpQ <- u
		}
	}
	close(kafkaQ)
	close(httpQ)
	wg.Wait()
}

// kafkaSender produces each unit's events as the neighbour services do
// (the reference envelope, keyed by the entity id) and retries a unit
// until the broker acknowledged all of it: a retry may deliver an event
// twice, which the consumers must apply once.
func (t *traffic) kafkaSender(ctx context.Context, q <-chan *unit) {
	cfg := producerConfig()
	cfg.Net.MaxOpenRequests = 1 // a unit's events stay in order through retries
	var p sarama.SyncProducer
	for u := range q {
		msgs := make([]*sarama.ProducerMessage, len(u.events))
		for i, ev := range u.events {
			msgs[i] = &sarama.ProducerMessage{Topic: topicOf(ev), Key: sarama.StringEncoder(strconv.FormatInt(u.id, 10)),
				Value: sarama.ByteEncoder(envelope(ev))}
		}
		for ctx.Err() == nil {
			var err error
			if p == nil {
				p, err = sarama.NewSyncProducer(t.e.broker.Addrs, cfg)
			}
			if err == nil {
				if err = p.SendMessages(msgs); err == nil {
					t.sent.Add(int64(len(msgs)))
					break
				}
				_ = p.Close()
				p = nil
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	if p != nil {
		_ = p.Close()
	}
}

func topicOf(ev sentEvent) string {
	switch ev.Consumer {
	case handlers.PatientGroup:
		return handlers.PatientTopic
	case handlers.TherapistGroup:
		return handlers.TherapistTopic
	}
	return handlers.CommunicationTopic
}

// envelope is the reference services' event envelope around ev.
func envelope(ev sentEvent) []byte {
	b, _ := json.Marshal(map[string]any{
		"eventId": ev.ID, "eventType": ev.Type, "version": "1.0",
		"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000000"),
		"producer":  strings.TrimSuffix(topicOf(ev), "-events") + "-service",
		"payload":   json.RawMessage(ev.Payload),
	})
	return b
}

// httpSender posts each unit's events to the HTTP-mode function as
// Knative delivers them, retrying an event on a 5xx or no answer (as the
// dispatcher does) until it is accepted; a 4xx is recorded as a rejection.
// Even units go as typed CloudEvents (a Trigger's delivery), odd ones as
// the KafkaSource delivers a plain record: type dev.knative.kafka.event,
// the envelope as data.
func (t *traffic) httpSender(ctx context.Context, q <-chan *unit) {
	for u := range q {
		for i, ev := range u.events {
			url := t.e.proc(label(ev.Function, modeHTTP)).URL() + "/"
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
				req.Header.Set("Ce-Specversion", "1.0")
				req.Header.Set("Ce-Source", "campaign/"+topicOf(ev))
				req.Header.Set("Content-Type", "application/json")
				if u.id%2 == 0 {
					req.Header.Set("Ce-Id", ev.ID)
					req.Header.Set("Ce-Type", ev.Type)
					req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(ev.Payload)), int64(len(ev.Payload))
				} else {
					env := envelope(ev)
					req.Header.Set("Ce-Id", fmt.Sprintf("partition:0/offset:%d", u.id*10+int64(i)))
					req.Header.Set("Ce-Type", "dev.knative.kafka.event")
					req.Header.Set("Ce-Key", strconv.FormatInt(u.id, 10))
					req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(env)), int64(len(env))
				}
				status := t.do(req, "event "+ev.Type)
				if status/100 == 2 {
					t.sent.Add(1)
					break
				}
				if status/100 == 4 {
					t.reject(fmt.Sprintf("%s %s: %d", ev.Type, ev.ID, status))
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	}
}

// do sends req and records the answer; it returns the status (0 without).
func (t *traffic) do(req *http.Request, what string) int {
	sent := time.Now()
	resp, err := t.client.Do(req)
	status := 0
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	t.record(answer{At: sent, Done: time.Now(), Status: status, What: what})
	return status
}

// apiScenario is one clerk's work on a new patient over the API: create
// the search, pause it, resume it, read it and the list. Each call is
// retried until it succeeds; a refusal after an attempt that got no answer
// (the search already exists or already has that status) counts as done.
func (t *traffic) apiScenario(ctx context.Context, patientID int64) {
	var searchID int64
	retried := false
	t.apiCall(ctx, http.MethodPost, "/api/platzsuchen", fmt.Sprintf(`{"patient_id":%d}`, patientID), func(status int, body []byte) bool {
		var out struct {
			ID       int64 `json:"id"`
			SearchID int64 `json:"search_id"`
		}
		_ = json.Unmarshal(body, &out)
		switch {
		case status == http.StatusCreated:
			searchID = out.ID
			return true
		case status == http.StatusBadRequest && out.SearchID > 0 && retried:
			searchID = out.SearchID
			return true
		}
		retried = true
		return false
	})
	if searchID == 0 {
		return
	}
	t.apiSearches.Store(patientID, searchID)
	path := fmt.Sprintf("/api/platzsuchen/%d", searchID)
	for _, status := range []string{"pausiert", "aktiv"} {
		retried := false
		t.apiCall(ctx, http.MethodPut, path, `{"status":"`+status+`"}`, func(code int, _ []byte) bool {
			ok := code == http.StatusOK || (code/100 == 4 && retried)
			retried = true
			return ok
		})
	}
	t.apiCall(ctx, http.MethodGet, path, "", func(code int, _ []byte) bool { return code == http.StatusOK })
	ok := func(code int, _ []byte) bool { return code == http.StatusOK }
	t.apiCall(ctx, http.MethodGet, "/api/platzsuchen?status=aktiv&page=1&limit=5", "", ok)
	t.apiCall(ctx, http.MethodGet, fmt.Sprintf("/api/verlauf?platzsuche_id=%d", searchID), "", ok)
	// An anfrage for a therapist in Munich, where no search is: the
	// whole composition runs (the therapist's record, the open anfragen,
	// the queue) and finds nobody, so the model is not changed.
	t.apiCall(ctx, http.MethodPost, "/api/therapeutenanfragen/erstellen-fuer-therapeut",
		fmt.Sprintf(`{"therapist_id":%d,"plz_prefix":"80"}`, apiTherapist), ok)
	t.apiCall(ctx, http.MethodGet, "/api/therapeuten-zur-auswahl?plz_prefix=80", "", ok)
	t.apiCall(ctx, http.MethodGet, fmt.Sprintf("/api/therapeutenanfragen?therapist_id=%d", apiTherapist), "", ok)
}

// apiTherapist is the therapist (in Munich) the API scenarios ask an
// anfrage for.
const apiTherapist = 4 * idBase

// apiCall sends one API request until done says so; a 4xx that done does
// not accept is a rejection and ends the call.
func (t *traffic) apiCall(ctx context.Context, method, path, body string, done func(int, []byte) bool) {
	base := t.e.proc("anfrage-api").URL()
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sent := time.Now()
		resp, err := t.client.Do(req)
		status := 0
		var raw []byte
		if err == nil {
			raw, _ = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			status = resp.StatusCode
		}
		t.record(answer{At: sent, Done: time.Now(), Status: status, What: method + " " + path})
		t.apiCalls.Add(1)
		if done(status, raw) {
			return
		}
		if status/100 == 4 {
			t.reject(fmt.Sprintf("%s %s: %d %s", method, path, status, bytes.TrimSpace(raw)))
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}
