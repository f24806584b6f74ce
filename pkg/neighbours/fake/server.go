package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Handler returns the HTTP handler of all four services.
func (f *Fake) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(ep Endpoint, service string, h http.HandlerFunc) {
		mux.HandleFunc(string(ep), f.wrap(ep, service, h))
	}
	f.patientRoutes(route)
	f.therapistRoutes(route)
	f.communicationRoutes(route)
	f.geocodingRoutes(route)
	return mux
}

// routeFunc registers the handler of one endpoint of a service, wrapped by
// Fake.wrap.
type routeFunc func(ep Endpoint, service string, h http.HandlerFunc)

// wrap counts the request, waits the latency and answers injected failures
// and outages before the handler runs.
func (f *Fake) wrap(ep Endpoint, service string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.counts[ep]++
		latency := f.latency
		if d, ok := f.serviceLatency[service]; ok {
			latency = d
		}
		down := f.down[service]
		failStatus, failing := f.popFailure(ep)
		f.mu.Unlock()
		if latency > 0 {
			// Read the body first: only then does the server notice a
			// client that gives up, and end the wait.
			if r.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			t := time.NewTimer(latency)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case failing && failStatus == 0:
			panic(http.ErrAbortHandler) // closes the connection without an answer
		case failing:
			writeJSON(w, failStatus, msg(http.StatusText(failStatus)))
		case down:
			writeJSON(w, http.StatusServiceUnavailable, msg("Service unavailable"))
		default:
			// Handlers answer while holding f.mu; the buffer lets the
			// network write happen after they have released it.
			var b buffered
			b.header = w.Header()
			h(&b, r)
			if b.status == 0 {
				b.status = http.StatusOK
			}
			w.WriteHeader(b.status)
			_, _ = w.Write(b.body.Bytes())
		}
	}
}

// buffered is a ResponseWriter that keeps the answer in memory.
type buffered struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffered) Header() http.Header { return b.header }

func (b *buffered) WriteHeader(status int) {
	if b.status == 0 {
		b.status = status
	}
}

func (b *buffered) Write(p []byte) (int, error) {
	b.WriteHeader(http.StatusOK)
	return b.body.Write(p)
}

// popFailure takes one injected failure of ep; f.mu is held.
func (f *Fake) popFailure(ep Endpoint) (int, bool) {
	q := f.failures[ep]
	if len(q) == 0 {
		return 0, false
	}
	status := q[0].status
	q[0].left--
	if q[0].left <= 0 {
		q = q[1:]
	}
	if len(q) == 0 {
		delete(f.failures, ep)
	} else {
		f.failures[ep] = q
	}
	return status, true
}

func msg(s string) map[string]any { return map[string]any{"message": s} }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"Internal server error"}`)
	}
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}

func (f *Fake) getOne(w http.ResponseWriter, r *http.Request, from map[int64]*record, notFound string) {
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	f.mu.Lock()
	rec, found := from[id]
	var body []byte
	if found {
		body = rec.json()
	}
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return
	}
	writeRaw(w, http.StatusOK, body)
}

// deleteOne deletes a record and returns what it deleted (nil when
// nothing).
func (f *Fake) deleteOne(w http.ResponseWriter, r *http.Request, from map[int64]*record, notFound, deleted string) *personChange {
	id, ok := pathID(w, r)
	if !ok {
		return nil
	}
	f.mu.Lock()
	rec, found := from[id]
	delete(from, id)
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return nil
	}
	writeJSON(w, http.StatusOK, msg(deleted))
	return &personChange{id: id, before: rec.copy()}
}

// createPerson serves POST /api/patients and POST /api/therapists: known
// fields are parsed as the reference parses them, unknown keys kept as given,
// the id assigned by the fake.
func (f *Fake) createPerson(w http.ResponseWriter, r *http.Request, kind string, into map[int64]*record, fields []field, statuses []string) *personChange {
	_, body, ok := readBody(w, r)
	if !ok {
		return nil
	}
	known, problem := parseKnown(body, fields, statuses, false)
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return nil
	}
	for k, v := range known {
		body[k] = v
	}
	f.mu.Lock()
	f.next[kind]++
	id := f.next[kind]
	body["id"] = json.Number(strconv.FormatInt(id, 10))
	fillDefaults(body, fields, dateStamp(f.now()))
	rec := &record{m: body}
	into[id] = rec
	out := rec.json()
	after := rec.copy()
	f.mu.Unlock()
	writeRaw(w, http.StatusCreated, out)
	return &personChange{id: id, after: after}
}

// updatePerson serves PUT /api/patients/{id} and PUT /api/therapists/{id}:
// known fields that are not null are set ("" clears a date); unknown keys are
// ignored, as reqparse ignores them.
func (f *Fake) updatePerson(w http.ResponseWriter, r *http.Request, into map[int64]*record, fields []field, statuses []string, notFound string) *personChange {
	id, ok := pathID(w, r)
	if !ok {
		return nil
	}
	_, body, ok := readBody(w, r)
	if !ok {
		return nil
	}
	f.mu.Lock()
	rec, found := into[id]
	f.mu.Unlock()
	if !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return nil
	}
	known, problem := parseKnown(body, fields, statuses, true)
	if problem != "" {
		writeJSON(w, http.StatusBadRequest, msg(problem))
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if rec, found = into[id]; !found {
		writeJSON(w, http.StatusNotFound, msg(notFound))
		return nil
	}
	before := rec.copy()
	for k, v := range known {
		rec.set(k, v)
	}
	rec.set("updated_at", dateStamp(f.now()))
	writeRaw(w, http.StatusOK, rec.json())
	return &personChange{id: id, before: before, after: rec.copy()}
}

// pageParams reads page and limit as the reference's PaginatedListResource
// does: defaults 1 and 20, non-integers fall back to them, page ≥ 1, limit 1..1000.
func pageParams(q url.Values) (page, limit int) {
	page, limit = 1, 20
	if v, err := strconv.Atoi(q.Get("page")); err == nil {
		page = max(v, 1)
	}
	if v, err := strconv.Atoi(q.Get("limit")); err == nil {
		limit = min(max(v, 1), 1000)
	}
	return page, limit
}

// writeList answers one page of recs, in the shape {data, page, limit, total}
// or, after SetBareLists(true), as a bare array. f.mu is held (w is buffered).
func (f *Fake) writeList(w http.ResponseWriter, q url.Values, recs []*record) {
	page, limit := pageParams(q)
	from := min((page-1)*limit, len(recs))
	to := min(from+limit, len(recs))
	var b bytes.Buffer
	if !f.bareLists {
		b.WriteString(`{"data":`)
	}
	b.WriteByte('[')
	for i, rec := range recs[from:to] {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(rec.json())
	}
	b.WriteByte(']')
	if !f.bareLists {
		fmt.Fprintf(&b, `,"page":%d,"limit":%d,"total":%d}`, page, limit, len(recs))
	}
	writeRaw(w, http.StatusOK, b.Bytes())
}
