// Package fake serves the four neighbour services matching calls — patient,
// therapist, communication and geocoding — in memory, with the reference
// services' paths, JSON field names, status codes and error messages. Tests put
// it on httptest (Start); the local stack serves it on a port (ListenAndServe).
// All four base URLs point at the same handler.
//
// Besides the endpoints matching uses it serves the create endpoints
// (POST /api/patients, POST /api/therapists), so data can be seeded over HTTP
// exactly as the reference's own tests do, or through the Go API (AddPatient,
// AddTherapist). It records the emails and phone calls it receives, counts
// requests per endpoint, and can be slowed down (SetLatency), made to fail
// (FailNext) or taken down (SetDown). A Fake is safe for concurrent use.
package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/neighbours"
)

// The services, for SetDown.
const (
	PatientService       = "patient"
	TherapistService     = "therapist"
	CommunicationService = "communication"
	GeocodingService     = "geocoding"
)

// Endpoint names one route; its value is the route pattern. Count and
// FailNext take it.
type Endpoint string

// The routes the fake serves.
const (
	CreatePatient     Endpoint = "POST /api/patients"
	GetPatient        Endpoint = "GET /api/patients/{id}"
	UpdatePatient     Endpoint = "PUT /api/patients/{id}"
	DeletePatient     Endpoint = "DELETE /api/patients/{id}"
	CreateTherapist   Endpoint = "POST /api/therapists"
	ListTherapists    Endpoint = "GET /api/therapists"
	GetTherapist      Endpoint = "GET /api/therapists/{id}"
	UpdateTherapist   Endpoint = "PUT /api/therapists/{id}"
	DeleteTherapist   Endpoint = "DELETE /api/therapists/{id}"
	CreateEmail       Endpoint = "POST /api/emails"
	ListEmails        Endpoint = "GET /api/emails"
	GetEmail          Endpoint = "GET /api/emails/{id}"
	UpdateEmail       Endpoint = "PUT /api/emails/{id}"
	CreatePhoneCall   Endpoint = "POST /api/phone-calls"
	ListPhoneCalls    Endpoint = "GET /api/phone-calls"
	GetPhoneCall      Endpoint = "GET /api/phone-calls/{id}"
	UpdatePhoneCall   Endpoint = "PUT /api/phone-calls/{id}"
	CalculateDistance Endpoint = "GET /api/calculate-distance"
)

// Received is one email or phone call the fake accepted.
type Received struct {
	ID     int64          // the id the fake assigned
	Body   map[string]any // the request body as decoded JSON (numbers are float64)
	Raw    []byte         // the request body exactly as sent
	Record map[string]any // the stored record now, as GET would return it
}

// Decode unmarshals the raw request body into v (for example a neighbours.Email).
func (r Received) Decode(v any) error { return json.Unmarshal(r.Raw, v) }

// Fake is the in-memory state of the four services.
type Fake struct {
	mu         sync.Mutex
	patients   map[int64]*record
	therapists map[int64]*record
	emails     map[int64]*record
	calls      map[int64]*record
	// callsByAnfrage lists the ids of the calls of each
	// therapeutenanfrage_id in ascending order, so that the follow-up job's
	// GET /api/phone-calls?therapeutenanfrage_id= costs the same with ten
	// or a million calls stored. putCall and updatePhoneCall keep it.
	callsByAnfrage map[int64][]int64
	emailReqs      []received
	callReqs       []received
	next           map[string]int64 // last id per kind
	distances      map[[2]string]distance
	queries        []neighbours.DistanceQuery
	latency        time.Duration
	failures       map[Endpoint][]failure
	down           map[string]bool
	counts         map[Endpoint]int
	bareLists      bool
	now            func() time.Time
}

type received struct {
	id  int64
	raw []byte
}

type distance struct {
	km   float64
	none bool
}

type failure struct {
	left   int
	status int
}

// New returns an empty fake.
func New() *Fake {
	return &Fake{
		patients:       map[int64]*record{},
		therapists:     map[int64]*record{},
		emails:         map[int64]*record{},
		calls:          map[int64]*record{},
		callsByAnfrage: map[int64][]int64{},
		next:           map[string]int64{},
		distances:      map[[2]string]distance{},
		failures:       map[Endpoint][]failure{},
		down:           map[string]bool{},
		counts:         map[Endpoint]int{},
		now:            time.Now,
	}
}

// TB is the part of testing.TB that Start needs.
type TB interface {
	Helper()
	Cleanup(func())
}

// Start serves a new fake on an httptest server that is closed when the test
// ends, and returns the neighbour configuration pointing all four services at
// it, with a 5 s timeout.
func Start(t TB) (*Fake, config.Neighbours) {
	t.Helper()
	f := New()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	return f, config.Neighbours{
		PatientURL:       srv.URL,
		TherapistURL:     srv.URL,
		CommunicationURL: srv.URL,
		GeocodingURL:     srv.URL,
		Timeout:          5 * time.Second,
	}
}

// ListenAndServe serves the fake on addr (host:port) until ctx ends, then
// shuts the server down. It returns nil after a shutdown caused by ctx.
func (f *Fake) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("fake neighbours: %w", err)
	}
	return f.Serve(ctx, ln)
}

// Serve serves the fake on ln until ctx ends.
func (f *Fake) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: f.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// SetLatency delays every answer by d (0 turns it off), as a real service's
// round trip would. A request whose client gives up stops waiting.
func (f *Fake) SetLatency(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.latency = d
}

// FailNext makes the next n requests to ep fail with status and a JSON
// {"message": …} body. Status 0 drops the connection without an answer.
// Calls queue up: FailNext(ep, 1, 500) then FailNext(ep, 1, 404) fails the
// next request with 500 and the one after with 404.
func (f *Fake) FailNext(ep Endpoint, n int, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if n > 0 {
		f.failures[ep] = append(f.failures[ep], failure{left: n, status: status})
	}
}

// SetDown takes a service (PatientService, …) down: every request to it is
// answered 503 until it is set up again.
func (f *Fake) SetDown(service string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[service] = down
}

// SetBareLists makes the list endpoints answer a bare JSON array, as some
// versions of the reference services did, instead of {data, page, limit, total}.
func (f *Fake) SetBareLists(bare bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bareLists = bare
}

// SetNow replaces the clock used for timestamps and default dates.
func (f *Fake) SetNow(now func() time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = now
}

// Count returns how many requests reached ep, failed ones included.
func (f *Fake) Count(ep Endpoint) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counts[ep]
}

// Counts returns the request count of every endpoint that was called.
func (f *Fake) Counts() map[Endpoint]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[Endpoint]int, len(f.counts))
	for k, v := range f.counts {
		out[k] = v
	}
	return out
}

// ResetCounts sets every request count to zero.
func (f *Fake) ResetCounts() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counts = map[Endpoint]int{}
}

// SetDistance fixes the distance between two addresses for every travel mode.
// Either key may be a whole address as matching sends it ("Hauptstr. 1,
// 10115, Berlin") or a five-digit PLZ, which then stands for every address
// with that PLZ; exact addresses win. The pair is symmetric.
func (f *Fake) SetDistance(origin, destination string, km float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.distances[[2]string{origin, destination}] = distance{km: km}
}

// SetNoDistance makes the geocoding service unable to compute a distance
// between the two addresses (or PLZs): it answers status "error", as the
// reference does for an address it cannot resolve.
func (f *Fake) SetNoDistance(origin, destination string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.distances[[2]string{origin, destination}] = distance{none: true}
}

// DistanceQueries returns every distance request received, in order.
func (f *Fake) DistanceQueries() []neighbours.DistanceQuery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]neighbours.DistanceQuery(nil), f.queries...)
}

// AddPatient stores a patient record as given and returns its id. v is
// anything that marshals to a JSON object: a map, a neighbours.Patient, raw
// JSON ([]byte, string, json.RawMessage). An "id" above 0 is kept (replacing a
// record with that id); otherwise the next free id is assigned. Unlike
// POST /api/patients nothing is validated, so tests can store malformed data.
// Known fields that are missing are stored as null. It panics if v is not a
// JSON object.
func (f *Fake) AddPatient(v any) int64 {
	return f.add(v, "patient", into(f.patients), patientFields, dateStamp)
}

// AddTherapist stores a therapist record as AddPatient does; status defaults
// to aktiv and psychotherapieverfahren to egal.
func (f *Fake) AddTherapist(v any) int64 {
	return f.add(v, "therapist", into(f.therapists), therapistFields, dateStamp)
}

// AddPhoneCall stores a phone call as if someone else had created it (say, an
// earlier run of the follow-up job) and returns its id. It is not listed by
// PhoneCalls, which lists what was received over HTTP.
func (f *Fake) AddPhoneCall(v any) int64 {
	return f.add(v, "phone-call", f.putCall, phoneCallFields, rfc822)
}

// add stores v as a record of kind through put, which runs with f.mu held.
func (f *Fake) add(v any, kind string, put func(id int64, r *record), fields []field, stamp func(time.Time) string) int64 {
	m, err := toMap(v)
	if err != nil {
		panic(fmt.Sprintf("fake: Add %s: %v", kind, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := intValue(m["id"])
	if id > 0 {
		if id > f.next[kind] {
			f.next[kind] = id
		}
	} else {
		f.next[kind]++
		id = f.next[kind]
	}
	m["id"] = json.Number(fmt.Sprint(id))
	fillDefaults(m, fields, stamp(f.now()))
	put(id, &record{m: m})
	return id
}

// into returns a put function for add that stores into m.
func into(m map[int64]*record) func(int64, *record) {
	return func(id int64, r *record) { m[id] = r }
}

// putCall stores the phone call r under id, replacing any call with that id,
// and keeps callsByAnfrage; f.mu is held.
func (f *Fake) putCall(id int64, r *record) {
	if old, ok := f.calls[id]; ok {
		f.unindexCall(id, old)
	}
	f.calls[id] = r
	f.indexCall(id, r)
}

// indexCall adds call id to the list of its therapeutenanfrage_id (a call
// without one is not listed); f.mu is held.
func (f *Fake) indexCall(id int64, r *record) {
	anfrage, ok := r.int("therapeutenanfrage_id")
	if !ok || anfrage == 0 {
		return
	}
	ids := f.callsByAnfrage[anfrage]
	if i, found := slices.BinarySearch(ids, id); !found {
		f.callsByAnfrage[anfrage] = slices.Insert(ids, i, id)
	}
}

// unindexCall removes call id from the list of its therapeutenanfrage_id;
// f.mu is held.
func (f *Fake) unindexCall(id int64, r *record) {
	anfrage, ok := r.int("therapeutenanfrage_id")
	if !ok {
		return
	}
	ids := f.callsByAnfrage[anfrage]
	i, found := slices.BinarySearch(ids, id)
	switch {
	case !found:
	case len(ids) == 1:
		delete(f.callsByAnfrage, anfrage)
	default:
		f.callsByAnfrage[anfrage] = slices.Delete(ids, i, i+1)
	}
}

// Patient returns the stored patient record, or false.
func (f *Fake) Patient(id int64) (map[string]any, bool) { return f.get(f.patients, id) }

// Therapist returns the stored therapist record, or false.
func (f *Fake) Therapist(id int64) (map[string]any, bool) { return f.get(f.therapists, id) }

// Email returns the stored email record, or false.
func (f *Fake) Email(id int64) (map[string]any, bool) { return f.get(f.emails, id) }

// PhoneCall returns the stored phone-call record, or false.
func (f *Fake) PhoneCall(id int64) (map[string]any, bool) { return f.get(f.calls, id) }

func (f *Fake) get(from map[int64]*record, id int64) (map[string]any, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := from[id]
	if !ok {
		return nil, false
	}
	return r.copy(), true
}

// SetPatientFields merges fields into a stored patient (a null value stores
// null) and reports whether the patient exists.
func (f *Fake) SetPatientFields(id int64, fields map[string]any) bool {
	return f.merge(f.patients, id, fields)
}

// SetTherapistFields merges fields into a stored therapist.
func (f *Fake) SetTherapistFields(id int64, fields map[string]any) bool {
	return f.merge(f.therapists, id, fields)
}

func (f *Fake) merge(into map[int64]*record, id int64, fields map[string]any) bool {
	m := map[string]any{}
	if len(fields) > 0 {
		var err error
		if m, err = toMap(fields); err != nil {
			panic(fmt.Sprintf("fake: merge: %v", err))
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := into[id]
	if !ok {
		return false
	}
	for k, v := range m {
		if k != "id" {
			r.set(k, v)
		}
	}
	return true
}

// RemovePatient deletes a patient, as the patient service does on DELETE.
func (f *Fake) RemovePatient(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.patients, id)
}

// RemoveTherapist deletes a therapist.
func (f *Fake) RemoveTherapist(id int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.therapists, id)
}

// Emails returns the emails received over POST /api/emails, oldest first.
func (f *Fake) Emails() []Received { return f.receivedList(f.emailReqs, f.emails) }

// PhoneCalls returns the phone calls received over POST /api/phone-calls, oldest first.
func (f *Fake) PhoneCalls() []Received { return f.receivedList(f.callReqs, f.calls) }

func (f *Fake) receivedList(reqs []received, records map[int64]*record) []Received {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Received, 0, len(reqs))
	for _, rq := range reqs {
		var body map[string]any
		_ = json.Unmarshal(rq.raw, &body)
		got := Received{ID: rq.id, Body: body, Raw: bytes.Clone(rq.raw)}
		if r, ok := records[rq.id]; ok {
			got.Record = r.copy()
		}
		out = append(out, got)
	}
	return out
}

// record is one stored JSON object. Numbers are json.Number, so ids and
// unknown values come back exactly as given.
type record struct {
	m    map[string]any
	body []byte // the encoded record, cached until the next change
}

func (r *record) set(k string, v any) {
	r.m[k] = v
	r.body = nil
}

func (r *record) json() []byte {
	if r.body == nil {
		b, err := json.Marshal(r.m)
		if err != nil {
			panic(fmt.Sprintf("fake: encode record: %v", err))
		}
		r.body = b
	}
	return r.body
}

// copy returns the record as a fresh map with plain JSON types.
func (r *record) copy() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.json(), &m)
	return m
}

func (r *record) str(k string) string {
	s, _ := r.m[k].(string)
	return s
}

func (r *record) int(k string) (int64, bool) { return intValue(r.m[k]) }

// sortedIDs returns the keys of m in ascending order.
func sortedIDs(m map[int64]*record) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}
